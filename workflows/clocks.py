"""Each state's clock: when a case's next action is due, computed from one table.

``Episode.next_action_due`` is stored (so "My cases" can be ordered, absence cover can see what
is due and the ``next_action_overdue`` rule can find what has run out), and it is only ever
written here: ``episodes_next_action_due_refresh`` recomputes it from the case's facts whenever an
event may have started or ended a clock. Every transition calls it (``episode_transition`` and
the set-based ``episodes_bulk_transition`` / ``episodes_import``), and so do the events that are
not transitions (first contact recorded, an assignment, a verification, a failed contact).

The clock of each state, counted from the day the case entered that state ("entered") on the
England-and-Wales working-day calendar, with the LA's own settings where it has one:

===================== =====================================================================
state                 next action due
===================== =====================================================================
notified              the day it entered: the risk check runs at once
safeguarding_review   1 working day after entering: the front door's level-1 due
                      (``social_care_known``; a ticked concern's own due is earlier and its
                      escalation holds the case meanwhile)
awaiting_consent      5 working days after entering: the consent decision (``consent_required``)
address_verification N working days (``contacts_unverified_working_days``) after the
                      notification was received; when the case came back because its details
                      went stale or the child was located, N working days after that day
education_enquiry     before first contact: K calendar days (``first_contact_days``) after the
                      notification was received; after it: 20 working days (the enquiry period)
                      after the later of the first contact and entering the enquiry
monitoring            the day the review falls due: W working days
                      (``review_warning_working_days``) before ``review_due_on``
review_due            ``review_due_on``
missing_education     5 working days after entering: the children-missing-education enquiry
s437_notice           the notice period's end: served on + 15 days (from then an order can be
                      served)
attendance_order      20 working days after the order was served: the follow-up
closed                none
===================== =====================================================================

A date the entering transition names itself wins over the table: ``not_yet_shown`` carries the
officer's new due date, and an imported record may carry the date its old system held. Both are
read back from the TransitionLog payload, so a later event (an assignment, a first contact) that
recomputes the clock keeps them. A case missing the fact its clock runs from (a review date, a
service date) falls back to a follow-up 20 working days after entering, so no active case is left
without a clock.

A due date D means "by the end of D": the case is overdue from the next day, and
``next_action_overdue`` fires from the first working day after D (as ``review_overdue`` does).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from django.db import connection

from ehe_register.models import LocalAuthority
from ehe_register.working_days import LONDON, add_working_days
from workflows.models import S437_NOTICE_DAYS, Episode
from workflows.states import State

CONSENT_DECISION_WORKING_DAYS = 5  # consent_required's level-1 due
FRONT_DOOR_WORKING_DAYS = 1  # social_care_known's level-1 due
CME_ENQUIRY_WORKING_DAYS = 5  # cme_enquiry's level-1 due
ENQUIRY_PERIOD_WORKING_DAYS = 20  # after first contact: about four weeks to show the education
ATTENDANCE_ORDER_FOLLOW_UP_WORKING_DAYS = 20
FOLLOW_UP_WORKING_DAYS = 20  # a case missing the fact its clock runs from

# Transitions that restart address verification's clock on the day they happen.
ADDRESS_VERIFICATION_RESTARTS = frozenset({"contacts_went_stale", "located"})


@dataclass(frozen=True)
class ClockFacts:
    """What a state's clock reads: the case's dates and how it entered its current state."""

    state: str
    received_on: date
    entered_at: datetime  # when the case entered its current state
    entered_by: str  # the transition that brought it there ("" when none is recorded)
    named_due: date | None  # a due date the latest transition named (not_yet_shown, an import)
    first_contact_at: datetime | None
    review_due_on: date | None
    s437_served_on: date | None
    attendance_order_served_on: date | None

    @property
    def entered_on(self) -> date:
        return self.entered_at.astimezone(LONDON).date()


def _follow_up(facts: ClockFacts, la: LocalAuthority) -> date:
    return add_working_days(facts.entered_on, FOLLOW_UP_WORKING_DAYS)


def review_falls_due_on(review_due_on: date, warning_working_days: int) -> date:
    """The first day on which ``review_falls_due`` moves a monitoring case with this review date:
    the earliest day d with ``add_working_days(d, W) >= review_due_on`` (as the sweep tests it)."""
    day = review_due_on
    while add_working_days(day - timedelta(days=1), warning_working_days) >= review_due_on:
        day -= timedelta(days=1)
    return day


def _address_verification(facts: ClockFacts, la: LocalAuthority) -> date:
    start = facts.entered_on if facts.entered_by in ADDRESS_VERIFICATION_RESTARTS else facts.received_on
    return add_working_days(start, la.contacts_unverified_working_days)


def _education_enquiry(facts: ClockFacts, la: LocalAuthority) -> date:
    if facts.first_contact_at is None:
        return facts.received_on + timedelta(days=la.first_contact_days)
    start = max(facts.first_contact_at.astimezone(LONDON).date(), facts.entered_on)
    return add_working_days(start, ENQUIRY_PERIOD_WORKING_DAYS)


def _monitoring(facts: ClockFacts, la: LocalAuthority) -> date:
    if facts.review_due_on is None:
        return _follow_up(facts, la)
    return review_falls_due_on(facts.review_due_on, la.review_warning_working_days)


def _s437_notice(facts: ClockFacts, la: LocalAuthority) -> date:
    return (facts.s437_served_on or facts.entered_on) + timedelta(days=S437_NOTICE_DAYS)


def _attendance_order(facts: ClockFacts, la: LocalAuthority) -> date:
    served = facts.attendance_order_served_on or facts.entered_on
    return add_working_days(served, ATTENDANCE_ORDER_FOLLOW_UP_WORKING_DAYS)


def _after_entering(n: int) -> Callable[[ClockFacts, LocalAuthority], date]:
    return lambda facts, la: add_working_days(facts.entered_on, n)


CLOCKS: dict[str, Callable[[ClockFacts, LocalAuthority], date | None]] = {
    State.NOTIFIED: lambda facts, la: facts.entered_on,
    State.SAFEGUARDING_REVIEW: _after_entering(FRONT_DOOR_WORKING_DAYS),
    State.AWAITING_CONSENT: _after_entering(CONSENT_DECISION_WORKING_DAYS),
    State.ADDRESS_VERIFICATION: _address_verification,
    State.EDUCATION_ENQUIRY: _education_enquiry,
    State.MONITORING: _monitoring,
    State.REVIEW_DUE: lambda facts, la: facts.review_due_on or _follow_up(facts, la),
    State.MISSING_EDUCATION: _after_entering(CME_ENQUIRY_WORKING_DAYS),
    State.S437_NOTICE: _s437_notice,
    State.ATTENDANCE_ORDER: _attendance_order,
    State.CLOSED: lambda facts, la: None,
}


def clock_due(facts: ClockFacts, la: LocalAuthority) -> date | None:
    """The next action's due date for a case with these facts (the table above)."""
    if facts.state == State.CLOSED:
        return None
    if facts.named_due is not None:
        return facts.named_due
    return CLOCKS[facts.state](facts, la)


# The facts of many episodes in one query: the latest transition (for a date it named) and the
# latest one into the current state (for when and how the case entered it).
_FACTS_SQL = """
    SELECT e.id, e.local_authority_id, e.state, e.received_on, e.opened_at, e.first_contact_at,
           e.review_due_on, e.s437_served_on, e.attendance_order_served_on,
           latest.to_state, latest.payload ->> 'next_action_due', entry.transition, entry.at, e.next_action_due
    FROM workflows_episode e
    LEFT JOIN LATERAL (
        SELECT t.to_state, t.payload FROM workflows_transitionlog t
        WHERE t.episode_id = e.id ORDER BY t.id DESC LIMIT 1
    ) latest ON true
    LEFT JOIN LATERAL (
        SELECT t.transition, t.at FROM workflows_transitionlog t
        WHERE t.episode_id = e.id AND t.to_state = e.state
          AND (t.from_state <> t.to_state OR t.transition = 'imported')
        ORDER BY t.id DESC LIMIT 1
    ) entry ON true
    WHERE e.id = ANY(%s)
"""


def _facts_of(episode_ids: Sequence[int], as_of: datetime) -> dict[int, tuple[int, ClockFacts, date | None]]:
    """(LA id, facts, the date stored now) by episode id. A case with no transition on record
    entered its state when it was opened (or, failing that, at ``as_of``)."""
    with connection.cursor() as cursor:
        cursor.execute(_FACTS_SQL, [list(episode_ids)])
        rows = cursor.fetchall()
    facts: dict[int, tuple[int, ClockFacts, date | None]] = {}
    for (pk, la_id, state, received_on, opened_at, first_contact_at, review_due_on, s437_served_on,
         order_served_on, latest_to, named, entered_by, entered_at, stored) in rows:  # fmt: skip
        facts[pk] = (
            la_id,
            ClockFacts(
                state=state,
                received_on=received_on,
                entered_at=entered_at or opened_at or as_of,
                entered_by=entered_by or "",
                named_due=date.fromisoformat(named) if named and latest_to == state else None,
                first_contact_at=first_contact_at,
                review_due_on=review_due_on,
                s437_served_on=s437_served_on,
                attendance_order_served_on=order_served_on,
            ),
            stored,
        )
    return facts


def next_action_due_for(episode: Episode, as_of: datetime) -> date | None:
    """When ``episode``'s next action is due, from its stored facts (nothing is written)."""
    la_id, facts, _ = _facts_of([episode.pk], as_of)[episode.pk]
    return clock_due(facts, LocalAuthority.objects.get(pk=la_id))


def next_action_due_after(
    *, episode_ids: Sequence[int], as_of: datetime, state: str, transition: str
) -> dict[int, tuple[str, date | None]]:
    """By episode id: (the state it is in, when its next action will be due once ``transition``
    has brought it into ``state`` at ``as_of``), for a set-wise transition that writes the clock in
    the same statement as the state (one write of each row, one history row). Nothing is written.
    The facts are the stored ones, with the new state entered now by ``transition`` (whose log
    names no due date)."""
    if not episode_ids:
        return {}
    facts = _facts_of(episode_ids, as_of)
    authorities = LocalAuthority.objects.in_bulk({la_id for la_id, _, _ in facts.values()})
    # Worked out once for each distinct set of facts: a bulk intake's cases share them (the same
    # day of receipt, state and time), and a date is counted in working days one day at a time.
    due: dict[tuple[int, ClockFacts], date | None] = {}
    after = {}
    for pk, (la_id, f, _) in facts.items():
        key = (la_id, replace(f, state=state, entered_at=as_of, entered_by=transition, named_due=None))
        if key not in due:
            due[key] = clock_due(key[1], authorities[la_id])
        after[pk] = (f.state, due[key])
    return after


def episodes_next_action_due_refresh(*, episode_ids: Sequence[int], as_of: datetime) -> dict[int, date | None]:
    """Recompute and store ``next_action_due`` for these episodes; returns the dates by id.

    At most three statements whatever the number of episodes: read the facts, read their LAs, and
    write the dates computed here in Python (working days need the bank-holiday calendar) where
    they differ from the stored ones (none differing: nothing to write).
    """
    if not episode_ids:
        return {}
    facts = _facts_of(episode_ids, as_of)
    authorities = LocalAuthority.objects.in_bulk({la_id for la_id, _, _ in facts.values()})
    dues = {pk: clock_due(f, authorities[la_id]) for pk, (la_id, f, _) in facts.items()}
    changed = [{"id": pk, "due": due.isoformat() if due else None} for pk, due in dues.items() if due != facts[pk][2]]
    if changed:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE workflows_episode e SET next_action_due = d.due
                FROM jsonb_to_recordset(%s::jsonb) AS d(id bigint, due date)
                WHERE e.id = d.id AND e.next_action_due IS DISTINCT FROM d.due
                """,
                [json.dumps(changed)],
            )
    return dues
