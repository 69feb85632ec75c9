"""What an intake brings, opening a case, and the risk check that runs straight after intake
(and after a reopen).

:class:`IntakeRecord` is the one record type for every way a child enters the register: a
school's notification (``workflows.services.submission``), an officer's new case
(``workflows.services.new_case``) and an import or transfer of existing records
(``workflows.services.bulk``). Each path reads the parts it needs and refuses a record that lacks
them; the child and their parents go through the same ``intake_child`` whichever path brought them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ehe_register.models import Child, PossibleMatch, School, User
from ehe_register.services.children import (
    ChildDetails,
    ChildFound,
    child_find_or_create,
    child_identity_lock,
    child_school_year_group_record,
)
from workflows.actors import SYSTEM
from workflows.models import Episode
from workflows.services.escalations import escalation_raise
from workflows.services.transitions import episode_transition
from workflows.states import Priority, Source, State


@dataclass(frozen=True)
class Concern:
    """A safeguarding concern told at intake: a school's form section, or an officer's description."""

    nature: str
    last_raised_on: date | None = None
    referred_to_front_door: bool = False
    referred_on: date | None = None
    referral_reference: str = ""
    dsl_name: str = ""
    dsl_phone: str = ""


@dataclass(frozen=True)
class SchoolNotice:
    """What only a school's notification brings: who sent it, the form exactly as received, and
    the pupil's leaving of the school."""

    submitted_by: User
    snapshot: dict[str, Any]
    notice_received_on: date
    removed_from_roll_on: date | None
    removal_status: str
    ground_confirmed: bool
    reason_detail: str = ""


@dataclass(frozen=True)
class IntakeRecord:
    """Everything an intake can bring about one child, whichever path brings it.

    ``child`` holds the child, their address and parents as told (matched against the register);
    ``known_child_id`` instead names a child the register already holds (a transfer of an existing
    record, or data built outside intake): exactly one of the two is given. ``local_authority_id``
    is the LA the child lives in. The facts after ``state`` describe an existing case entering in
    a later state, and only imports and transfers may carry them.
    """

    local_authority_id: int
    source: str
    received_on: date | None = None  # None: the day the service receives it (a school's form)
    child: ChildDetails | None = None
    known_child_id: int | None = None
    source_detail: str = ""
    opened_by_school: School | None = None
    notice: SchoolNotice | None = None  # a school's notification only
    concern: Concern | None = None
    special_school_placed_by_la: bool = False
    attendance_order_in_force: bool = False
    reason_code: str = ""
    assign_to_me: bool = False  # an officer's new case only
    # An existing case entering the register in a later state (imports and transfers only).
    state: str = State.NOTIFIED
    assigned_officer_id: int | None = None
    priority: int = Priority.NORMAL
    review_due_on: date | None = None
    next_action_due: date | None = None
    contacts_verified_at: datetime | None = None
    first_contact_at: datetime | None = None
    child_seen_at_home_at: datetime | None = None
    s437_served_on: date | None = None
    s437_served_how: str = ""
    attendance_order_served_on: date | None = None

    def __post_init__(self) -> None:
        if (self.child is None) == (self.known_child_id is None):
            raise ValueError("An intake record names a known child or describes one, not both or neither")

    def received(self, as_of: datetime) -> date:
        """The day the LA received it: as the record says, else the day of ``as_of``."""
        return self.received_on or timezone.localdate(as_of)


def intake_child(record: IntakeRecord, *, as_of: datetime) -> ChildFound:
    """The child a record is about: the known child, or the one matching finds or creates (under
    the identity lock, so two intakes about the same new child at once give one child), with the
    year group the school gave kept beside the derived one. Call inside a transaction."""
    if record.known_child_id is not None:
        child = Child.objects.get(pk=record.known_child_id, local_authority_id=record.local_authority_id)
        return ChildFound(child=child, created=False)
    assert record.child is not None  # a record names a known child or describes one
    child_identity_lock(record.local_authority_id, record.child.date_of_birth)
    found = child_find_or_create(la_id=record.local_authority_id, details=record.child)
    child_school_year_group_record(found.child, record.child, record.received(as_of))
    return found


def possible_matches_store(found: ChildFound, *, as_of: datetime, notification: Any = None) -> None:
    """Keep each likely match for an officer to resolve; nothing is merged silently."""
    for candidate, reasons in found.likely:
        PossibleMatch.objects.get_or_create(
            child=found.child,
            candidate=candidate,
            defaults={"notification": notification, "reasons": reasons, "found_at": as_of},
        )


def intake_episode_open(record: IntakeRecord, child: Child, *, as_of: datetime) -> Episode:
    """Open the record's case for ``child`` and run the risk check (``episode_open``)."""
    return episode_open(
        child=child,
        source=Source(record.source),
        received_on=record.received(as_of),
        as_of=as_of,
        opened_by_school=record.opened_by_school,
        concern_at_intake=record.concern is not None,
        special_school_placed_by_la=record.special_school_placed_by_la,
        attendance_order_in_force=record.attendance_order_in_force,
        reason_code=record.reason_code,
        source_detail=record.source_detail,
    )


def episode_open(
    *,
    child: Child,
    source: Source,
    received_on: date,
    as_of: datetime,
    opened_by_school: School | None = None,
    concern_at_intake: bool = False,
    special_school_placed_by_la: bool = False,
    attendance_order_in_force: bool = False,
    reason_code: str = "",
    source_detail: str = "",
) -> Episode:
    """Open a new episode for ``child`` and run the risk check, in one transaction.

    The database refuses a second open episode for the same child; callers that may race (two
    schools notifying the same child) take the intake lock first (``workflows.services.submission``).
    """
    with transaction.atomic():
        episode = Episode.objects.create(
            local_authority_id=child.local_authority_id,
            child=child,
            source=source,
            source_detail=source_detail,
            opened_by_school=opened_by_school,
            received_on=received_on,
            opened_at=as_of,
            concern_at_intake=concern_at_intake,
            special_school_placed_by_la=special_school_placed_by_la,
            attendance_order_in_force=attendance_order_in_force,
            reason_code=reason_code,
        )
        return episode_risk_check(episode_id=episode.pk, as_of=as_of)


def episode_risk_check(*, episode_id: int, as_of: datetime, actor: Any = SYSTEM) -> Episode:
    """Send a notified episode to the front door, the consent decision or address verification,
    and raise the escalations its facts call for, with their messages, in the same transaction.

    The safeguarding escalations are raised here, as events of the intake; the rest
    (``consent_required``, ``sen_notify``, and any clock already run out for a late notification)
    by the rules, evaluated for the case at the end."""
    with transaction.atomic():
        episode = Episode.objects.select_related("child", "local_authority").get(pk=episode_id)
        reasons = episode.safeguarding_triggers()
        episode = episode_transition(
            episode_id=episode_id,
            transition="risk_check",
            actor=SYSTEM,
            expected_version=None,
            as_of=as_of,
            payload={"safeguarding_triggers": reasons},
        )
        if "concern_ticked" in reasons:
            escalation_raise(episode=episode, rule_name="concern_ticked", as_of=as_of)
        if "social_care_known" in reasons or "previous_episode_closed_with_concerns" in reasons:
            escalation_raise(episode=episode, rule_name="social_care_known", as_of=as_of)
        # The sweep's own code, for this case (the sweep imports the intake path: imported here).
        # The transition has just recomputed the clock, and raising an escalation moves none of its facts.
        from workflows.sweeps import episode_rules_evaluate

        episode_rules_evaluate(episode_id=episode_id, as_of=as_of, clock_fresh=True)
        return Episode.objects.select_related("child", "local_authority").get(pk=episode_id)
