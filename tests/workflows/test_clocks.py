"""Clocks that are stored are kept true (issue 9, item 5): the ``next_action_due`` each event
leaves behind, for every state, on the working-day calendar; and the ``next_action_overdue``
catch-all, which gives every clock that runs out an owner unless another rule already holds the case.

The events happen on Wednesday 23 December 2026, before Christmas: Friday 25 and Monday 28
December (Boxing Day's substitute) and Friday 1 January 2027 are bank holidays, so counting
working days from the 23rd gives 24 December (1), 29 December (2), 4 January (5), 7 January (8),
11 January (10) and 25 January (20). The expected dates below were counted by hand on that
calendar, not computed by the code under test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from ehe_register.models import CheckMethod, CheckOutcome, LocalAuthority, User
from ehe_register.roles import Role
from tests.factories import AddressFactory, ChildFactory, make_episode, make_user
from workflows.actors import SYSTEM
from workflows.clocks import next_action_due_for, review_falls_due_on
from workflows.models import Episode, Escalation, TransitionLog
from workflows.services.bulk import episodes_bulk_transition, episodes_import
from workflows.services.casework import (
    ActivityInput,
    activity_record,
    address_check_record,
    consent_decide,
    cspa_decide,
    episode_assign,
    episode_concern_raised,
    episode_user_transition,
    review_record,
)
from workflows.services.escalations import escalation_raise
from workflows.services.intake import IntakeRecord, episode_open
from workflows.services.transitions import episode_transition
from workflows.states import ACTIVE_STATES, Source, State
from workflows.sweeps import SWEEPS, sweep_run

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
EVENT_DAY = date(2026, 12, 23)  # a Wednesday, two days before Christmas


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


EVENT = london(2026, 12, 23, 10, 0)


@pytest.fixture
def people(la: LocalAuthority) -> dict[str, User]:
    return {
        "officer": make_user(Role.EHE_OFFICER, la),
        "manager": make_user(Role.EHE_MANAGER, la),
        "duty": make_user(Role.CSPA_DUTY_WORKER, la),
    }


@pytest.fixture
def at_event() -> Iterator[Any]:
    with time_machine.travel(EVENT, tick=False) as traveller:
        yield traveller


def _case(state: str, la: LocalAuthority, **fields: Any) -> Episode:
    fields.setdefault("received_on", timezone.localdate())  # the frozen clock's day
    return make_episode(state, la=la, **fields)


def _intake(**facts: Any) -> Callable[[LocalAuthority, dict[str, User]], Episode]:
    def run(la: LocalAuthority, people: dict[str, User]) -> Episode:
        child = ChildFactory(local_authority=la)
        return episode_open(child=child, source=Source.SCHOOL, received_on=EVENT_DAY, as_of=EVENT, **facts)

    return run


def _on(state: str, event: Callable[[Episode, dict[str, User]], Any], **fields: Any) -> Any:
    def run(la: LocalAuthority, people: dict[str, User]) -> Episode:
        episode = _case(state, la, assigned_officer=people["officer"], **fields)
        event(episode, people)
        return Episode.objects.get(pk=episode.pk)

    return run


def _by(role: str, transition: str, **arguments: Any) -> Callable[[Episode, dict[str, User]], Any]:
    return lambda episode, people: episode_user_transition(
        episode_id=episode.pk,
        transition=transition,
        actor=people[role],
        expected_version=None,
        as_of=EVENT,
        **arguments,
    )


def _review(outcome: str, **arguments: Any) -> Callable[[Episode, dict[str, User]], Any]:
    return lambda episode, people: review_record(
        episode_id=episode.pk,
        actor=people["officer"],
        expected_version=None,
        outcome=outcome,
        held_on=EVENT_DAY,
        as_of=EVENT,
        **arguments,
    )


def _activity(outcome: str) -> Callable[[Episode, dict[str, User]], Any]:
    return lambda episode, people: activity_record(
        episode_id=episode.pk,
        actor=people["officer"],
        expected_version=None,
        data=ActivityInput(kind="phone_call", occurred_at=EVENT, summary="Called the family", outcome=outcome),
        as_of=EVENT,
    )


def _verify(episode: Episode, people: dict[str, User]) -> None:
    AddressFactory(child=episode.child)
    for method in (CheckMethod.FAMILY, CheckMethod.HOME_VISIT):
        address_check_record(
            episode_id=episode.pk,
            actor=people["officer"],
            expected_version=None,
            method=method,
            outcome=CheckOutcome.CONFIRMED,
            checked_at=EVENT,
            as_of=EVENT,
        )


def _not_yet_shown_then_assigned_and_called(episode: Episode, people: dict[str, User]) -> None:
    _review("not_yet_shown", next_action_due=date(2027, 2, 1))(episode, people)
    episode_assign(
        episode_id=episode.pk, officer=people["officer"], actor=people["manager"], expected_version=None, as_of=EVENT
    )
    _activity("parent_reached")(episode, people)


@dataclass(frozen=True)
class Event:
    name: str
    run: Callable[[LocalAuthority, dict[str, User]], Episode]
    state: str
    due: date | None


EVENTS = [
    Event("intake, no trigger: contacts to verify in 10 working days", _intake(), State.ADDRESS_VERIFICATION,
          date(2027, 1, 11)),
    Event("intake, concern ticked: the front door in 1 working day", _intake(concern_at_intake=True),
          State.SAFEGUARDING_REVIEW, date(2026, 12, 24)),
    Event("intake, consent needed: a decision in 5 working days", _intake(special_school_placed_by_la=True),
          State.AWAITING_CONSENT, date(2027, 1, 4)),
    Event("front door decides: back to verification, counted from receipt",
          _on(State.SAFEGUARDING_REVIEW, lambda e, p: cspa_decide(
              episode_id=e.pk, actor=p["duty"], expected_version=None, decision="no_further_action", as_of=EVENT),
              received_on=date(2026, 12, 16)),
          State.ADDRESS_VERIFICATION, date(2027, 1, 4)),
    Event("consent granted", _on(State.AWAITING_CONSENT, lambda e, p: consent_decide(
              episode_id=e.pk, actor=p["manager"], expected_version=None, granted=True, reasons="Fine", as_of=EVENT)),
          State.ADDRESS_VERIFICATION, date(2027, 1, 11)),
    Event("contacts verified before first contact: K calendar days from receipt",
          _on(State.ADDRESS_VERIFICATION, _verify), State.EDUCATION_ENQUIRY, date(2027, 1, 7)),
    Event("first contact: the enquiry period, 20 working days",
          _on(State.EDUCATION_ENQUIRY, lambda e, p: _activity("parent_reached")(e, p)),
          State.EDUCATION_ENQUIRY, date(2027, 1, 25)),
    Event("not yet shown: the officer's date, kept through an assignment and a first contact",
          _on(State.EDUCATION_ENQUIRY, _not_yet_shown_then_assigned_and_called),
          State.EDUCATION_ENQUIRY, date(2027, 2, 1)),
    Event("enquiry suitable: when the review falls due, 20 working days before it",
          _on(State.EDUCATION_ENQUIRY, _review("suitable", next_review_on=date(2027, 3, 1))),
          State.MONITORING, date(2027, 2, 1)),
    Event("s437 notice served: the notice period's end",
          _on(State.EDUCATION_ENQUIRY, _review("unsuitable", s437_served_on=EVENT_DAY, s437_served_how="By hand")),
          State.S437_NOTICE, date(2027, 1, 7)),
    Event("attendance order served: a follow-up in 20 working days",
          _on(State.S437_NOTICE, _by("manager", "sao_served", served_on=EVENT_DAY),
              s437_served_on=date(2026, 12, 8)),
          State.ATTENDANCE_ORDER, date(2027, 1, 25)),
    Event("cannot locate: the children-missing-education enquiry in 5 working days",
          _on(State.ADDRESS_VERIFICATION, _by("officer", "cannot_locate")), State.MISSING_EDUCATION,
          date(2027, 1, 4)),
    Event("located: verification again, counted from the day located",
          _on(State.MISSING_EDUCATION, _by("officer", "located"), received_on=date(2026, 10, 1)),
          State.ADDRESS_VERIFICATION, date(2027, 1, 11)),
    Event("a failed contact: stale, verification again from today",
          _on(State.MONITORING, lambda e, p: _activity("letter_returned")(e, p), received_on=date(2025, 9, 1)),
          State.ADDRESS_VERIFICATION, date(2027, 1, 11)),
    Event("concern raised: the front door in 1 working day",
          _on(State.MONITORING, lambda e, p: episode_concern_raised(
              episode_id=e.pk, actor=p["officer"], as_of=EVENT, note="Worried")),
          State.SAFEGUARDING_REVIEW, date(2026, 12, 24)),
    Event("review falls due (the sweep): the review date",
          _on(State.MONITORING, lambda e, p: sweep_run(as_of=EVENT), review_due_on=date(2027, 1, 19)),
          State.REVIEW_DUE, date(2027, 1, 19)),
    Event("review not yet shown: the officer's date",
          _on(State.REVIEW_DUE, _review("not_yet_shown", next_action_due=date(2027, 2, 8))),
          State.REVIEW_DUE, date(2027, 2, 8)),
    Event("parent satisfies the notice: monitoring",
          _on(State.S437_NOTICE, _by("officer", "parent_satisfies", next_review_on=date(2027, 3, 1))),
          State.MONITORING, date(2027, 2, 1)),
    Event("order revoked: monitoring",
          _on(State.ATTENDANCE_ORDER, _by("manager", "order_revoked", next_review_on=date(2027, 3, 1))),
          State.MONITORING, date(2027, 2, 1)),
    Event("closed: no clock",
          _on(State.MONITORING, _by("officer", "close", closure_reason="returned_to_school")), State.CLOSED, None),
]  # fmt: skip


@pytest.mark.parametrize("event", EVENTS, ids=[e.name for e in EVENTS])
def test_each_event_leaves_the_clock_of_the_state_it_leads_to(
    event: Event, la: LocalAuthority, people: dict[str, User], at_event: Any
) -> None:
    episode = event.run(la, people)
    assert (episode.state, episode.next_action_due) == (event.state, event.due)
    # The stored date is the one the clock gives from the stored facts: nothing else wrote it.
    assert next_action_due_for(episode, EVENT) == event.due


def test_an_assignment_does_not_restart_a_clock(la: LocalAuthority, people: dict[str, User]) -> None:
    with time_machine.travel(london(2026, 12, 16, 10, 0), tick=False) as traveller:
        case = _case(State.AWAITING_CONSENT, la, received_on=date(2026, 12, 16))
        assert case.next_action_due == date(2026, 12, 23)  # 5 working days from the 16th
        traveller.move_to(EVENT)
        episode_assign(
            episode_id=case.pk, officer=people["officer"], actor=people["manager"], expected_version=None, as_of=EVENT
        )
    assert Episode.objects.get(pk=case.pk).next_action_due == date(2026, 12, 23)


def test_an_imported_records_own_date_is_kept_until_the_case_moves(
    la: LocalAuthority, people: dict[str, User], at_event: Any
) -> None:
    case = _case(State.EDUCATION_ENQUIRY, la, next_action_due=date(2027, 3, 3), assigned_officer=people["officer"])
    _activity("parent_reached")(case, people)
    assert Episode.objects.get(pk=case.pk).next_action_due == date(2027, 3, 3)
    _review("suitable", next_review_on=date(2027, 3, 1))(case, people)
    assert Episode.objects.get(pk=case.pk).next_action_due == date(2027, 2, 1)


def test_a_monitoring_case_falls_due_on_the_day_its_clock_says(la: LocalAuthority) -> None:
    """The clock and the sweep agree: review on 19 January 2027, 20 working days back over
    Christmas and New Year is Thursday 17 December 2026."""
    assert review_falls_due_on(date(2027, 1, 19), 20) == date(2026, 12, 17)
    with time_machine.travel(london(2026, 12, 1, 9, 0), tick=False) as traveller:
        case = _case(State.MONITORING, la, review_due_on=date(2027, 1, 19))
        assert case.next_action_due == date(2026, 12, 17)
        traveller.move_to(london(2026, 12, 16, 23, 0))
        assert sweep_run(as_of=timezone.now())["review_falls_due"]["moved"] == 0
        traveller.move_to(london(2026, 12, 17, 0, 15))
        assert sweep_run(as_of=timezone.now())["review_falls_due"]["moved"] == 1


# --- The bulk paths give exactly what the per-row path gives ------------------------------------


@pytest.mark.parametrize(
    ("transition", "state", "fields"),
    [
        ("review_falls_due", State.MONITORING, {"review_due_on": date(2027, 1, 19)}),
        ("contacts_went_stale", State.EDUCATION_ENQUIRY, {"first_contact_at": london(2026, 12, 1, 10, 0)}),
        ("contacts_went_stale", State.REVIEW_DUE, {"review_due_on": date(2027, 1, 19)}),
    ],
)
def test_a_bulk_transition_sets_the_clock_the_per_row_path_sets(
    transition: str, state: str, fields: dict[str, Any], la: LocalAuthority, at_event: Any
) -> None:
    one, other = (_case(state, la, received_on=date(2026, 9, 1), **fields) for _ in range(2))
    episode_transition(episode_id=one.pk, transition=transition, actor=SYSTEM, expected_version=None, as_of=EVENT)
    moved = episodes_bulk_transition(transition=transition, episodes=Episode.objects.filter(pk=other.pk), as_of=EVENT)
    assert moved == [other.pk]
    one, other = Episode.objects.get(pk=one.pk), Episode.objects.get(pk=other.pk)
    assert one.next_action_due is not None
    assert (other.state, other.next_action_due) == (one.state, one.next_action_due)


@pytest.mark.parametrize("state", [s for s in State.values if s != State.NOTIFIED])
def test_an_import_sets_the_clock_the_per_row_import_sets(state: str, la: LocalAuthority, at_event: Any) -> None:
    facts = {"received_on": date(2026, 12, 1), "review_due_on": date(2027, 2, 15)}
    child, other_child = ChildFactory(local_authority=la), ChildFactory(local_authority=la)
    single = Episode.objects.create(local_authority=la, child=child, source=Source.IMPORT, opened_at=EVENT, **facts)
    episode_transition(
        episode_id=single.pk, transition="imported", actor=SYSTEM, expected_version=None, as_of=EVENT, state=state
    )
    [bulk] = episodes_import(
        records=[
            IntakeRecord(
                known_child_id=other_child.pk, local_authority_id=la.pk, source=Source.IMPORT, state=state, **facts
            )
        ],
        as_of=EVENT,
    )
    single = Episode.objects.get(pk=single.pk)
    assert bulk.next_action_due == single.next_action_due
    assert (single.next_action_due is None) == (state == State.CLOSED)
    payloads = [TransitionLog.objects.get(episode=e).payload for e in (single, bulk)]
    assert payloads[0] == payloads[1]


# --- next_action_overdue: the catch-all ------------------------------------------------------------

START = london(2026, 11, 2, 9, 0)  # Monday; nothing to do with any bank holiday
LATER = london(2026, 12, 7, 0, 15)  # Monday, five weeks on: every clock below has run out
VERIFIED = {"contacts_verified_at": START, "first_contact_at": START}

# A case whose clock has run out by LATER, in each active state the sweep looks at, and the rule
# whose escalation holds it afterwards: the catch-all where no other rule has it.
RUN_OUT: list[tuple[str, dict[str, Any], str]] = [
    (State.SAFEGUARDING_REVIEW, {**VERIFIED, "resume_state": State.ADDRESS_VERIFICATION}, "next_action_overdue"),
    (State.AWAITING_CONSENT, VERIFIED, "consent_required"),
    (State.ADDRESS_VERIFICATION, {"first_contact_at": START}, "contacts_unverified"),
    (State.EDUCATION_ENQUIRY, VERIFIED, "next_action_overdue"),
    (State.EDUCATION_ENQUIRY, {"contacts_verified_at": START}, "enquiry_overdue"),  # no first contact
    (State.MONITORING, {**VERIFIED, "review_due_on": date(2026, 12, 2)}, "review_overdue"),  # moved to review
    (State.REVIEW_DUE, {**VERIFIED, "review_due_on": date(2026, 12, 2)}, "review_overdue"),
    (State.REVIEW_DUE, {**VERIFIED, "review_due_on": date(2027, 1, 20), "next_action_due": date(2026, 11, 30)},
     "next_action_overdue"),  # not yet shown, its date passed; the review itself is not yet due
    (State.MISSING_EDUCATION, VERIFIED, "next_action_overdue"),
    (State.S437_NOTICE, {**VERIFIED, "s437_served_on": date(2026, 11, 2)}, "next_action_overdue"),
    (State.ATTENDANCE_ORDER, {**VERIFIED, "attendance_order_served_on": date(2026, 11, 2)}, "next_action_overdue"),
]  # fmt: skip


def _open_rules(episode: Episode) -> set[str]:
    return set(
        Escalation.objects.filter(episode=episode, resolved_at__isnull=True)
        .exclude(rule__in=["sen_notify", "officer_absent"])
        .values_list("rule", flat=True)
    )


def test_every_active_state_is_covered() -> None:
    swept = {s for s in ACTIVE_STATES if s != State.NOTIFIED}  # notified: the risk check moves it at once
    assert {state for state, _, _ in RUN_OUT} == swept


@pytest.mark.parametrize(("state", "fields", "holder"), RUN_OUT, ids=[f"{s}-{h}" for s, _, h in RUN_OUT])
def test_a_clock_that_runs_out_has_an_owner(
    state: str, fields: dict[str, Any], holder: str, la: LocalAuthority, people: dict[str, User]
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        case = _case(state, la, received_on=START.date(), assigned_officer=people["officer"], **fields)
        assert case.next_action_due is not None
        assert case.next_action_due < LATER.date()
        traveller.move_to(LATER)
        sweep_run(as_of=LATER)
    assert _open_rules(case) >= {holder}
    if holder == "next_action_overdue":
        assert _open_rules(case) == {"next_action_overdue"}
        escalation = Escalation.objects.get(episode=case, rule="next_action_overdue")
        assert (escalation.level, escalation.owner_user_id, escalation.owner_role) == (1, people["officer"].pk, "")
        assert escalation.due_at == london(2026, 12, 14, 17, 0)  # 5 working days
    else:
        assert "next_action_overdue" not in _open_rules(case)


def test_an_unassigned_case_goes_to_the_team_queue(la: LocalAuthority) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        case = _case(State.S437_NOTICE, la, received_on=START.date(), s437_served_on=date(2026, 11, 2), **VERIFIED)
        traveller.move_to(LATER)
        sweep_run(as_of=LATER)
    escalation = Escalation.objects.get(episode=case, rule="next_action_overdue", resolved_at__isnull=True)
    assert (escalation.owner_user_id, escalation.owner_role) == (None, Role.EHE_OFFICER)


def test_not_before_the_first_working_day_after_the_due_date(la: LocalAuthority, people: dict[str, User]) -> None:
    """A notice served on Friday 13 November 2026 ends on Saturday the 28th; the order can be
    served from then, and the case is overdue from the first working day after: Monday 30th."""
    with time_machine.travel(START, tick=False) as traveller:
        case = _case(
            State.S437_NOTICE, la, assigned_officer=people["officer"], s437_served_on=date(2026, 11, 13), **VERIFIED
        )
        assert case.next_action_due == date(2026, 11, 28)
        for moment in (london(2026, 11, 28, 17, 0), london(2026, 11, 29, 17, 0)):
            traveller.move_to(moment)
            assert sweep_run(as_of=moment)["next_action_overdue"]["raised"] == 0
        monday = london(2026, 11, 30, 0, 15)
        traveller.move_to(monday)
        assert sweep_run(as_of=monday)["next_action_overdue"]["raised"] == 1


def test_not_where_another_rule_holds_an_open_escalation(la: LocalAuthority, people: dict[str, User]) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        held = _case(State.S437_NOTICE, la, s437_served_on=date(2026, 11, 2), **VERIFIED)
        escalation_raise(episode=held, rule_name="concern_ticked", as_of=START)
        free = _case(State.S437_NOTICE, la, s437_served_on=date(2026, 11, 2), **VERIFIED)
        traveller.move_to(LATER)
        counts = sweep_run(as_of=LATER)
    assert counts["next_action_overdue"]["raised"] == 1
    assert "next_action_overdue" not in _open_rules(held)
    assert "next_action_overdue" in _open_rules(free)


def test_resolved_when_another_rule_takes_the_case(la: LocalAuthority, people: dict[str, User]) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        case = _case(State.S437_NOTICE, la, assigned_officer=people["officer"], s437_served_on=START.date(), **VERIFIED)
        traveller.move_to(LATER)
        sweep_run(as_of=LATER)
        assert "next_action_overdue" in _open_rules(case)
        episode_concern_raised(episode_id=case.pk, actor=people["officer"], as_of=LATER, note="Worried")
    escalation = Escalation.objects.get(episode=case, rule="next_action_overdue")
    assert escalation.resolved_at == LATER
    assert _open_rules(case) == {"concern_ticked"}


def test_resolved_at_the_event_that_moves_the_clock_on(la: LocalAuthority, people: dict[str, User]) -> None:
    """The officer records that the education is not yet shown, with a new date: the rules run at
    that event, so the escalation resolves then, not at the next sweep."""
    with time_machine.travel(START, tick=False) as traveller:
        case = _case(State.EDUCATION_ENQUIRY, la, assigned_officer=people["officer"], **VERIFIED)
        traveller.move_to(LATER)
        sweep_run(as_of=LATER)
        assert _open_rules(case) == {"next_action_overdue"}
        review_record(
            episode_id=case.pk,
            actor=people["officer"],
            expected_version=None,
            outcome="not_yet_shown",
            held_on=LATER.date(),
            next_action_due=date(2027, 1, 8),
            as_of=LATER,
        )
    assert _open_rules(case) == set()
    escalation = Escalation.objects.get(episode=case, rule="next_action_overdue")
    assert escalation.resolved_at == LATER
    assert escalation.decision_note == f"Resolved automatically: {SWEEPS['next_action_overdue'].cleared}"


def test_raised_once_however_often_the_sweep_runs(la: LocalAuthority, people: dict[str, User]) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        case = _case(State.MISSING_EDUCATION, la, assigned_officer=people["officer"], **VERIFIED)
        for hour in (0, 10, 17):
            moment = LATER.replace(hour=hour)
            traveller.move_to(moment)
            sweep_run(as_of=moment)
    assert Escalation.objects.filter(episode=case, rule="next_action_overdue").count() == 1
