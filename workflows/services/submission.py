"""A school's EHE notification, from the submitted form to a case on the right LA's register.

``notification_submit`` does it all in one transaction: the reference, routing by residence,
matching the child (under an advisory lock, so two schools notifying the same new child at the
same moment give one child and one open episode), the episode and its risk check, escalations,
and the outbox messages (the receipt among them). Nothing is half-saved.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ehe_register.models import (
    Child,
    LocalAuthority,
    OffRollNotification,
    Routing,
    User,
)
from ehe_register.validators import is_compulsory_school_age
from notifications.models import Channel
from notifications.services import MessageSpec, messages_enqueue_many
from workflows.models import ConcernSource, Episode
from workflows.services.casework import concern_kept_at_intake, episode_concern_raised
from workflows.services.intake import Concern, IntakeRecord, intake_child, intake_episode_open, possible_matches_store
from workflows.states import ACTIVE_STATES, Source


class SubmissionRateLimited(Exception):
    """The user has sent more notifications in the last hour than a school plausibly needs to."""

    def __str__(self) -> str:
        return (
            "You have sent a lot of notifications in the last hour. Wait a while and try again, "
            "or contact the home education team."
        )


def _next_reference(la: LocalAuthority) -> str:
    prefix = f"EHE-{la.dfe_code}"
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO ehe_register_referencesequence (prefix, last_value) VALUES (%s, 1)
            ON CONFLICT (prefix) DO UPDATE SET last_value = ehe_register_referencesequence.last_value + 1
            RETURNING last_value
            """,
            [prefix],
        )
        (value,) = cursor.fetchone()  # type: ignore[misc]
    return f"{prefix}-{value:06d}"


def _check_rate(user: User, as_of: datetime) -> None:
    """At most ``EHE_NOTIFICATIONS_PER_HOUR`` submissions by one user in an hour (0: no limit)."""
    limit = settings.EHE_NOTIFICATIONS_PER_HOUR
    if not limit:
        return
    recent = OffRollNotification.objects.filter(submitted_by=user, submitted_at__gt=as_of - timedelta(hours=1))
    if recent.count() >= limit:
        raise SubmissionRateLimited


def notification_submit(*, data: IntakeRecord, as_of: datetime | None = None) -> OffRollNotification:
    """Record a school's notification (``data.notice`` and ``data.opened_by_school`` given, a
    described child) and, where the child's LA uses the service, match the child and open or
    find the case; the submitter gets a receipt."""
    as_of = as_of or timezone.now()
    if data.notice is None:
        raise ValueError("A school's notification names its school and describes the child and the notice")
    with transaction.atomic():
        _check_rate(data.notice.submitted_by, as_of)
        notification = notification_record(data=data, as_of=as_of)
        la = notification.residence_la
        messages_enqueue_many(
            messages=[
                MessageSpec(
                    template="emails/notification_receipt",
                    idempotency_key=f"receipt:{notification.reference}:{channel}",
                    channel=channel,
                    recipient_user_id=data.notice.submitted_by.pk,
                    local_authority_id=la.pk if la.uses_service else None,
                    payload={
                        "reference": notification.reference,
                        "routing": notification.routing,
                        "la_name": la.header_name,
                    },
                )
                for channel in (Channel.IN_APP, Channel.EMAIL)
            ],
            as_of=as_of,
        )
        return notification


def notification_record(*, data: IntakeRecord, as_of: datetime) -> OffRollNotification:
    """What a school's notification does to the register, whoever hands it in: the form
    (``notification_submit``, which adds the rate limit and the receipt) or an import of a file of
    notifications (``imports``, one row at a time here, or set-wise through
    ``workflows.services.bulk_notifications`` for rows that need no judgement). One transaction."""
    notice, school, details = data.notice, data.opened_by_school, data.child
    if notice is None or school is None or details is None or data.source != Source.SCHOOL:
        raise ValueError("A school's notification names its school and describes the child and the notice")
    data = replace(data, source_detail=data.source_detail or str(school))
    with transaction.atomic():
        la = LocalAuthority.objects.get(pk=data.local_authority_id)
        child = episode = found = None
        if la.uses_service:
            routing = Routing.THIS_DEPLOYMENT
            found = intake_child(data, as_of=as_of)
            child = found.child
            episode = _find_or_open_episode(data, child, as_of, new_child=found.created)
        else:
            routing = Routing.FORWARDED
        notification = OffRollNotification.objects.create(
            reference=_next_reference(la),
            school=school,
            submitted_by=notice.submitted_by,
            submitted_at=as_of,
            snapshot=notice.snapshot,
            residence_la=la,
            routing=routing,
            child=child,
            episode=episode,
            legal_first_name=details.legal_first_name,
            legal_last_name=details.legal_last_name,
            date_of_birth=details.date_of_birth,
            upn=details.upn,
            postcode=details.postcode,
            notice_received_on=notice.notice_received_on,
            removed_from_roll_on=notice.removed_from_roll_on,
            removal_status=notice.removal_status,
            reason_code=data.reason_code,
            safeguarding_concerns=data.concern is not None,
            outside_school_age=not is_compulsory_school_age(details.date_of_birth, timezone.localdate(as_of)),
        )
        if found is not None:
            possible_matches_store(found, as_of=as_of, notification=notification)
        return notification


def _find_or_open_episode(data: IntakeRecord, child: Child, as_of: datetime, *, new_child: bool) -> Episode:
    """A child with an open case keeps it (a ticked concern is raised on it); otherwise a new
    episode opens. A closed episode is never reopened by a notification. A child recorded by this
    intake (``new_child``) has no case yet."""
    submitter = data.notice.submitted_by if data.notice is not None else None
    open_episode = None if new_child else Episode.objects.filter(child=child, state__in=ACTIVE_STATES).first()
    if open_episode is not None:
        if data.concern is not None:
            episode_concern_raised(
                episode_id=open_episode.pk,
                as_of=as_of,
                note=_concern_text(data.concern),
                source=ConcernSource.SCHOOL_NOTIFICATION,
                author=submitter,
                author_name=_school_author(data),
            )
        return open_episode
    episode = intake_episode_open(data, child, as_of=as_of)
    if data.concern is not None:
        concern_kept_at_intake(
            episode=episode,
            text=_concern_text(data.concern),
            source=ConcernSource.SCHOOL_NOTIFICATION,
            as_of=as_of,
            author=submitter,
            author_name=_school_author(data),
        )
    return episode


def _school_author(data: IntakeRecord) -> str:
    submitter = data.notice.submitted_by if data.notice is not None else None
    who = submitter.display_name if submitter is not None else "The school"
    return f"{who}, {data.opened_by_school.name}" if data.opened_by_school is not None else who


def _concern_text(concern: Concern) -> str:
    """What the school said about its concern, as one text to keep on the case."""
    lines = [concern.nature.strip() or "The school ticked safeguarding concerns"]
    if concern.last_raised_on:
        lines.append(f"Last raised: {concern.last_raised_on:%d/%m/%Y}")
    if concern.referred_to_front_door:
        referred = (
            f"Referred to the front door on {concern.referred_on:%d/%m/%Y}" if concern.referred_on else "Referred"
        )
        lines.append(referred + (f", reference {concern.referral_reference}" if concern.referral_reference else ""))
    if concern.dsl_name or concern.dsl_phone:
        lines.append(f"Designated safeguarding lead: {concern.dsl_name} {concern.dsl_phone}".strip())
    return "\n".join(lines)
