"""A school's EHE notification, from the submitted form to a case on the right LA's register.

``notification_submit`` does it all in one transaction: the reference, routing by residence,
matching the child (under an advisory lock, so two schools notifying the same new child at the
same moment give one child and one open episode), the episode and its risk check, escalations,
and the outbox messages (the receipt among them). Nothing is half-saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ehe_register.models import (
    Child,
    LocalAuthority,
    OffRollNotification,
    PossibleMatch,
    Routing,
    School,
    User,
)
from ehe_register.services.children import ChildDetails, ParentDetails, child_find_or_create, child_identity_lock
from ehe_register.validators import is_compulsory_school_age
from notifications.models import Channel
from notifications.services import message_enqueue
from workflows.models import ConcernSource, Episode
from workflows.services.casework import concern_kept_at_intake, episode_concern_raised
from workflows.services.intake import episode_open
from workflows.states import ACTIVE_STATES, Source


class SubmissionRateLimited(Exception):
    """The user has sent more notifications in the last hour than a school plausibly needs to."""

    def __str__(self) -> str:
        return (
            "You have sent a lot of notifications in the last hour. Wait a while and try again, "
            "or contact the home education team."
        )


@dataclass(frozen=True)
class NotificationInput:
    school: School
    submitted_by: User
    snapshot: dict[str, Any]
    residence_la: LocalAuthority
    legal_first_name: str
    legal_middle_names: str
    legal_last_name: str
    preferred_first_name: str
    date_of_birth: date
    sex: str
    upn: str
    year_group: str
    address_line_1: str
    address_line_2: str
    address_town: str
    postcode: str
    parents: tuple[ParentDetails, ...]
    notice_received_on: date
    removed_from_roll_on: date | None
    removal_status: str
    ground_confirmed: bool
    reason_code: str
    reason_detail: str
    sen_status: str
    social_care_status: str
    social_worker_email: str
    special_school_placed_by_la: bool
    attendance_order_in_force: bool
    safeguarding_concerns: bool
    concern_nature: str = ""
    concern_last_raised_on: date | None = None
    referred_to_front_door: bool = False
    referred_on: date | None = None
    referral_reference: str = ""
    dsl_name: str = ""
    dsl_phone: str = ""

    def child_details(self) -> ChildDetails:
        return ChildDetails(
            legal_first_name=self.legal_first_name,
            legal_middle_names=self.legal_middle_names,
            legal_last_name=self.legal_last_name,
            preferred_first_name=self.preferred_first_name,
            date_of_birth=self.date_of_birth,
            sex=self.sex,
            upn=self.upn,
            address_line_1=self.address_line_1,
            address_line_2=self.address_line_2,
            address_town=self.address_town,
            postcode=self.postcode,
            parents=self.parents,
            sen_status=self.sen_status,
            social_care_status=self.social_care_status,
            social_worker_email=self.social_worker_email,
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


def notification_submit(*, data: NotificationInput, as_of: datetime | None = None) -> OffRollNotification:
    as_of = as_of or timezone.now()
    with transaction.atomic():
        _check_rate(data.submitted_by, as_of)
        la = data.residence_la
        child = episode = None
        matches: list[tuple[Child, list[str]]] = []
        if la.uses_service:
            routing = Routing.THIS_DEPLOYMENT
            child_identity_lock(la.pk, data.date_of_birth)
            found = child_find_or_create(la_id=la.pk, details=data.child_details())
            child, matches = found.child, found.likely
            episode = _find_or_open_episode(data, child, as_of)
        else:
            routing = Routing.FORWARDED
        notification = OffRollNotification.objects.create(
            reference=_next_reference(la),
            school=data.school,
            submitted_by=data.submitted_by,
            submitted_at=as_of,
            snapshot=data.snapshot,
            residence_la=la,
            routing=routing,
            child=child,
            episode=episode,
            legal_first_name=data.legal_first_name,
            legal_last_name=data.legal_last_name,
            date_of_birth=data.date_of_birth,
            upn=data.upn,
            postcode=data.postcode,
            notice_received_on=data.notice_received_on,
            removed_from_roll_on=data.removed_from_roll_on,
            removal_status=data.removal_status,
            reason_code=data.reason_code,
            safeguarding_concerns=data.safeguarding_concerns,
            outside_school_age=not is_compulsory_school_age(data.date_of_birth, timezone.localdate(as_of)),
        )
        for candidate, reasons in matches:
            PossibleMatch.objects.get_or_create(
                child=child,
                candidate=candidate,
                defaults={"notification": notification, "reasons": reasons, "found_at": as_of},
            )
        for channel in (Channel.IN_APP, Channel.EMAIL):
            message_enqueue(
                template="emails/notification_receipt",
                idempotency_key=f"receipt:{notification.reference}:{channel}",
                channel=channel,
                recipient_user=data.submitted_by,
                local_authority=la if la.uses_service else None,
                payload={"reference": notification.reference, "routing": routing, "la_name": la.header_name},
                as_of=as_of,
            )
        return notification


def _find_or_open_episode(data: NotificationInput, child: Child, as_of: datetime) -> Episode:
    """A child with an open case keeps it (a ticked concern is raised on it); otherwise a new
    episode opens. A closed episode is never reopened by a notification."""
    open_episode = Episode.objects.filter(child=child, state__in=ACTIVE_STATES).first()
    if open_episode is not None:
        if data.safeguarding_concerns:
            episode_concern_raised(
                episode_id=open_episode.pk,
                as_of=as_of,
                note=_concern_text(data),
                source=ConcernSource.SCHOOL_NOTIFICATION,
                author=data.submitted_by,
                author_name=f"{data.submitted_by.display_name}, {data.school.name}",
            )
        return open_episode
    episode = episode_open(
        child=child,
        source=Source.SCHOOL,
        received_on=timezone.localdate(as_of),
        as_of=as_of,
        opened_by_school=data.school,
        concern_at_intake=data.safeguarding_concerns,
        special_school_placed_by_la=data.special_school_placed_by_la,
        attendance_order_in_force=data.attendance_order_in_force,
        reason_code=data.reason_code,
        source_detail=str(data.school),
    )
    if data.safeguarding_concerns:
        concern_kept_at_intake(
            episode=episode,
            text=_concern_text(data),
            source=ConcernSource.SCHOOL_NOTIFICATION,
            as_of=as_of,
            author=data.submitted_by,
            author_name=f"{data.submitted_by.display_name}, {data.school.name}",
        )
    return episode


def _concern_text(data: NotificationInput) -> str:
    """What the school said about its concern, as one text to keep on the case."""
    lines = [data.concern_nature.strip() or "The school ticked safeguarding concerns"]
    if data.concern_last_raised_on:
        lines.append(f"Last raised: {data.concern_last_raised_on:%d/%m/%Y}")
    if data.referred_to_front_door:
        referred = f"Referred to the front door on {data.referred_on:%d/%m/%Y}" if data.referred_on else "Referred"
        lines.append(referred + (f", reference {data.referral_reference}" if data.referral_reference else ""))
    if data.dsl_name or data.dsl_phone:
        lines.append(f"Designated safeguarding lead: {data.dsl_name} {data.dsl_phone}".strip())
    return "\n".join(lines)
