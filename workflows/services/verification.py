"""Whether a case's address and contact details are verified, unverified or stale (DESIGN section 3).

Verified: confirmed with the family AND one independent source since the details last went stale.
Independent sources are a home visit and another agency's record; the school counts only for the
first verification of an episode opened by that school's own notification (later, its data is old).
Stale: the last verification is older than the LA's limit (the sweep), or a contact failed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import TextChoices

from ehe_register.models import AddressCheck, CheckMethod, CheckOutcome
from workflows.actors import SYSTEM
from workflows.models import Episode
from workflows.services.transitions import episode_transition
from workflows.states import State
from workflows.sweeps import episode_rules_evaluate

CONFIRMING = (CheckOutcome.CONFIRMED, CheckOutcome.CHANGED)
ALWAYS_INDEPENDENT = (CheckMethod.HOME_VISIT, CheckMethod.OTHER_AGENCY)


class ContactsStatus(TextChoices):
    VERIFIED = "verified", "Verified"
    UNVERIFIED = "unverified", "Not verified"
    STALE = "stale", "Stale"


def contacts_status(episode: Episode) -> ContactsStatus:
    if episode.contacts_stale_at is not None:
        return ContactsStatus.STALE
    if episode.contacts_verified_at is not None:
        return ContactsStatus.VERIFIED
    return ContactsStatus.UNVERIFIED


def verification_time(episode: Episode) -> datetime | None:
    """When the checks on record since the details last went stale verify them, else None."""
    checks = AddressCheck.objects.filter(episode=episode, outcome__in=CONFIRMING).order_by("checked_at")
    if episode.contacts_stale_at is not None:
        checks = checks.filter(checked_at__gt=episode.contacts_stale_at)
    first_verification = episode.contacts_stale_at is None and episode.contacts_verified_at is None
    family = independent = None
    for check in checks:
        if check.method == CheckMethod.FAMILY:
            family = family or check.checked_at
        elif check.method in ALWAYS_INDEPENDENT or (
            check.method == CheckMethod.SCHOOL
            and first_verification
            and episode.opened_by_school_id is not None
            and check.school_id == episode.opened_by_school_id
        ):
            independent = independent or check.checked_at
    if family is None or independent is None:
        return None
    return max(family, independent)


def contacts_verification_refresh(*, episode_id: int, as_of: datetime, actor: Any = SYSTEM) -> Episode:
    """Record verification when the checks allow it and move a case waiting in address
    verification on to the education enquiry; the rules then resolve the escalations it answers
    (``contacts_unverified``, ``cme_enquiry``, ``contacts_stale``)."""
    with transaction.atomic():
        episode = Episode.objects.select_for_update(of=("self",)).get(pk=episode_id)
        if contacts_status(episode) == ContactsStatus.VERIFIED:
            return episode
        verified_at = verification_time(episode)
        if verified_at is None:
            return episode
        Episode.objects.filter(pk=episode.pk).update(contacts_verified_at=verified_at, contacts_stale_at=None)
        episode = Episode.objects.get(pk=episode.pk)
        if episode.state == State.ADDRESS_VERIFICATION:
            episode = episode_transition(
                episode_id=episode.pk, transition="contacts_verified", actor=SYSTEM, expected_version=None, as_of=as_of
            )
        episode_rules_evaluate(episode_id=episode.pk, as_of=as_of)
        return Episode.objects.get(pk=episode.pk)


def contacts_mark_stale(*, episode_id: int, as_of: datetime, reason: str) -> Episode:
    """A failed contact (returned letter, no one at the address, number unobtainable): the details
    are stale now. Cases in monitoring, review or enquiry go back to address verification; cases
    waiting on a decision or a statutory clock stay put, and the rules raise ``contacts_stale``
    either way."""
    with transaction.atomic():
        episode = Episode.objects.select_for_update(of=("self",)).get(pk=episode_id)
        if episode.contacts_stale_at is None:
            Episode.objects.filter(pk=episode.pk).update(contacts_stale_at=as_of, contacts_verified_at=None)
            episode = Episode.objects.get(pk=episode.pk)
        if episode.state in (State.MONITORING, State.REVIEW_DUE, State.EDUCATION_ENQUIRY):
            episode = episode_transition(
                episode_id=episode.pk,
                transition="contacts_went_stale",
                actor=SYSTEM,
                expected_version=None,
                reason=reason,
                as_of=as_of,
            )
        episode_rules_evaluate(episode_id=episode.pk, as_of=as_of)
        return Episode.objects.get(pk=episode.pk)
