"""The periodic sweep (DESIGN section 5): for each rule the case that fires it and the nearest case
that must not, repeated sweeps, automatic resolution, weekends, bank holidays, the cut-off time,
and each rung of the ladder, with a frozen clock that the tests move."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connections, transaction
from django.utils import timezone

from ehe_register.models import LocalAuthority, SenStatus, SocialCareStatus, User
from ehe_register.roles import Role
from ehe_register.working_days import add_working_days
from notifications.models import Message
from tests.factories import ChildFactory, make_audit_action, make_episode, make_user
from workflows import sweeps
from workflows.escalation_rules import RULES
from workflows.models import (
    Activity,
    ActivityKind,
    ActivityOutcome,
    Episode,
    Escalation,
    EscalationEvent,
    TransitionLog,
)
from workflows.selectors import escalations_for
from workflows.services.escalations import (
    escalation_acknowledge,
    escalation_decide,
    escalation_raise,
    managers_digest_send,
)
from workflows.services.intake import episode_open
from workflows.services.transitions import episode_transition
from workflows.services.verification import contacts_mark_stale
from workflows.states import Source, State
from workflows.sweeps import SWEEP_LOCK, SWEEP_NAMES, SWEEPS, SweepBusy, episode_rules_evaluate, sweep_run

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


class Clock:
    """A frozen clock the test moves; each sweep takes ``as_of`` from it, as the task does."""

    def __init__(self, traveller: Any) -> None:
        self.traveller = traveller

    def at(self, moment: datetime) -> datetime:
        self.traveller.move_to(moment)
        return moment

    def sweep(self, moment: datetime | None = None, **kwargs: Any) -> dict[str, dict[str, int]]:
        if moment is not None:
            self.at(moment)
        return sweep_run(as_of=timezone.now(), **kwargs)


@pytest.fixture
def clock() -> Iterator[Clock]:
    with time_machine.travel(london(2026, 11, 2, 9, 0), tick=False) as traveller:
        yield Clock(traveller)


@pytest.fixture
def staff(la: LocalAuthority) -> dict[str, User]:
    return {
        "manager": make_user(Role.EHE_MANAGER, la),
        "head": make_user(Role.HEAD_OF_SERVICE, la),
        "duty": make_user(Role.CSPA_DUTY_WORKER, la),
        "cspa_manager": make_user(Role.CSPA_MANAGER, la),
        "officer": make_user(Role.EHE_OFFICER, la),
    }


def open_escalations(rule: str, episode: Episode | None = None) -> list[Escalation]:
    rows = Escalation.objects.filter(rule=rule, resolved_at__isnull=True)
    if episode is not None:
        rows = rows.filter(episode=episode)
    return list(rows)


def only(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The non-zero part of a sweep's counts."""
    return {rule: {k: v for k, v in c.items() if v} for rule, c in counts.items() if any(c.values())}


def kinds(escalation: Escalation) -> list[tuple[str, int]]:
    return [(e.kind, e.level) for e in EscalationEvent.objects.filter(escalation=escalation).order_by("id")]


def test_every_rule_declares_its_sweep() -> None:
    assert set(SWEEPS) == set(RULES)
    assert set(SWEEP_NAMES) == {*RULES, "review_falls_due"}


def test_a_sweep_with_nothing_to_do_reports_zeros(clock: Clock, la: LocalAuthority) -> None:
    counts = clock.sweep()
    assert set(counts) == set(SWEEP_NAMES)
    assert only(counts) == {}


def test_as_of_must_be_aware(la: LocalAuthority) -> None:
    with pytest.raises(ValueError, match="aware"):
        sweep_run(as_of=datetime(2026, 11, 2, 9, 0))


# --- contacts_unverified and cme_enquiry: N and 2N working days after receipt ---------------------


def unverified(la: LocalAuthority, received_on: date, **fields: Any) -> Episode:
    return make_episode(
        State.ADDRESS_VERIFICATION, la=la, received_on=received_on, first_contact_at=timezone.now(), **fields
    )


def test_contacts_unverified_fires_on_the_nth_working_day_and_not_before(
    clock: Clock, la: LocalAuthority, staff: dict[str, User]
) -> None:
    # Received Friday 6 November: the 10th working day after is Friday 20 November.
    case = unverified(la, date(2026, 11, 6))
    day_later = unverified(la, date(2026, 11, 9))  # the nearest case that must not fire
    verified = unverified(la, date(2026, 11, 6), contacts_verified_at=london(2026, 11, 10, 12, 0))

    assert only(clock.sweep(london(2026, 11, 19, 23, 59))) == {}

    counts = clock.sweep(london(2026, 11, 20, 0, 15))

    assert counts["contacts_unverified"]["raised"] == 1
    [escalation] = open_escalations("contacts_unverified")
    assert escalation.episode_id == case.pk
    assert (escalation.level, escalation.owner_role, escalation.owner_user_id) == (1, Role.EHE_MANAGER, None)
    assert escalation.due_at == london(2026, 12, 4, 17, 0)  # N = 10 working days to act
    assert not open_escalations("contacts_unverified", day_later)
    assert not open_escalations("contacts_unverified", verified)
    # Owned by the EHE manager role: no message per case per person; it is on their list.
    assert not Message.objects.exists()
    assert list(escalations_for(staff["manager"])) == [escalation]


def test_repeated_sweeps_raise_nothing_more(clock: Clock, la: LocalAuthority, staff: dict[str, User]) -> None:
    unverified(la, date(2026, 11, 6))
    clock.sweep(london(2026, 11, 20, 0, 15))
    messages = Message.objects.count()

    for minute in (30, 45):
        assert only(clock.sweep(london(2026, 11, 20, 0, minute))) == {}

    assert Escalation.objects.count() == 1
    assert EscalationEvent.objects.count() == 1
    assert Message.objects.count() == messages


def test_weekends_do_not_count_towards_working_days(clock: Clock, la: LocalAuthority) -> None:
    # Received Monday 9 November: the 10th working day is Monday 23 November.
    unverified(la, date(2026, 11, 9))

    assert only(clock.sweep(london(2026, 11, 21, 12, 0))) == {}  # Saturday
    assert only(clock.sweep(london(2026, 11, 22, 12, 0))) == {}  # Sunday
    assert clock.sweep(london(2026, 11, 23, 0, 15))["contacts_unverified"]["raised"] == 1


def test_bank_holidays_do_not_count_towards_working_days(clock: Clock, la: LocalAuthority) -> None:
    # Received Friday 18 December: 25 and 28 December and 1 January are bank holidays, so the
    # 10th working day is Wednesday 6 January 2027.
    assert add_working_days(date(2026, 12, 18), 10) == date(2027, 1, 6)
    unverified(la, date(2026, 12, 18))

    assert only(clock.sweep(london(2027, 1, 5, 18, 0))) == {}
    assert clock.sweep(london(2027, 1, 6, 0, 15))["contacts_unverified"]["raised"] == 1


def test_the_las_own_n_sets_when_it_fires(clock: Clock, la: LocalAuthority, other_la: LocalAuthority) -> None:
    la.contacts_unverified_working_days = 3
    la.save()
    mine = unverified(la, date(2026, 11, 6))
    theirs = unverified(other_la, date(2026, 11, 6))

    counts = clock.sweep(london(2026, 11, 11, 9, 0))  # 3 working days after Friday 6th

    assert counts["contacts_unverified"]["raised"] == 1
    assert open_escalations("contacts_unverified", mine)
    assert not open_escalations("contacts_unverified", theirs)


def test_cme_enquiry_fires_at_2n_working_days_and_verification_resolves_both(clock: Clock, la: LocalAuthority) -> None:
    case = unverified(la, date(2026, 11, 6))
    clock.sweep(london(2026, 11, 20, 9, 0))

    assert only(clock.sweep(london(2026, 12, 3, 23, 0))) == {}
    counts = clock.sweep(london(2026, 12, 4, 9, 0))  # 20 working days
    assert counts["cme_enquiry"]["raised"] == 1
    assert {e.rule for e in Escalation.objects.filter(episode=case, resolved_at__isnull=True)} == {
        "contacts_unverified",
        "cme_enquiry",
    }

    Episode.objects.filter(pk=case.pk).update(contacts_verified_at=london(2026, 12, 4, 11, 0))
    counts = clock.sweep(london(2026, 12, 4, 11, 15))

    assert counts["contacts_unverified"]["resolved"] == counts["cme_enquiry"]["resolved"] == 1
    # Verified behind the service's back, the case still sits in address verification past its
    # clock (10 working days from receipt): with nothing else holding it, the catch-all takes it.
    assert {e.rule for e in Escalation.objects.filter(episode=case, resolved_at__isnull=True)} == {
        "next_action_overdue"
    }
    resolved = Escalation.objects.get(episode=case, rule="cme_enquiry")
    assert resolved.resolved_at == london(2026, 12, 4, 11, 15)
    assert resolved.resolved_by_name == "EHE register (automatic)"
    assert kinds(resolved) == [("raised", 1), ("resolved", 1)]
    assert EscalationEvent.objects.filter(escalation=resolved, kind="resolved").get().note == (
        "Resolved automatically: Contact details verified"
    )


def test_closing_a_case_resolves_its_clock_escalations(
    clock: Clock, la: LocalAuthority, staff: dict[str, User]
) -> None:
    case = unverified(la, date(2026, 11, 6))
    clock.sweep(london(2026, 11, 20, 9, 0))
    episode_transition(
        episode_id=case.pk,
        transition="close",
        actor=staff["officer"],
        expected_version=None,
        closure_reason="moved_out",
        as_of=clock.at(london(2026, 11, 20, 10, 0)),
    )

    assert clock.sweep(london(2026, 11, 20, 10, 15))["contacts_unverified"]["resolved"] == 1


# --- contacts_stale: verified more than M months ago, or a failed contact --------------------------


def test_contacts_go_stale_after_m_months_and_the_case_returns_to_address_verification(
    clock: Clock, la: LocalAuthority, staff: dict[str, User]
) -> None:
    officer = staff["officer"]
    contacted = {"first_contact_at": london(2025, 6, 1, 10)}
    old = make_episode(
        State.MONITORING, la=la, assigned_officer=officer, contacts_verified_at=london(2025, 11, 20, 10), **contacted
    )
    nearest = make_episode(State.MONITORING, la=la, contacts_verified_at=london(2025, 11, 20, 10, 30), **contacted)
    held = make_episode(State.S437_NOTICE, la=la, contacts_verified_at=london(2025, 6, 1, 10), **contacted)

    counts = clock.sweep(london(2026, 11, 20, 10, 1))

    assert counts["contacts_stale"] == {"raised": 2, "resolved": 0, "climbed": 0, "moved": 1}
    old = Episode.objects.get(pk=old.pk)
    assert (old.state, old.contacts_stale_at, old.contacts_verified_at) == (
        State.ADDRESS_VERIFICATION,
        london(2026, 11, 20, 10, 1),
        None,
    )
    log = TransitionLog.objects.filter(episode=old).latest("id")
    assert (log.transition, log.from_state, log.actor_name) == (
        "contacts_went_stale",
        State.MONITORING,
        "EHE register (automatic)",
    )
    [escalation] = open_escalations("contacts_stale", old)
    assert (escalation.owner_role, escalation.owner_user_id) == ("", officer.pk)
    assert Episode.objects.get(pk=nearest.pk).contacts_stale_at is None
    held = Episode.objects.get(pk=held.pk)
    assert held.state == State.S437_NOTICE  # a statutory clock is running: it stays put
    [held_escalation] = open_escalations("contacts_stale", held)
    assert (held_escalation.owner_role, held_escalation.owner_user_id) == (Role.EHE_OFFICER, None)  # team queue

    assert only(clock.sweep(london(2026, 11, 20, 10, 16))) == {}


def test_the_las_own_m_sets_when_contacts_go_stale(clock: Clock, la: LocalAuthority) -> None:
    la.contacts_stale_months = 6
    la.save()
    case = make_episode(State.EDUCATION_ENQUIRY, la=la, contacts_verified_at=london(2026, 5, 19, 9))

    assert clock.sweep(london(2026, 11, 19, 8, 59))["contacts_stale"]["raised"] == 0
    assert clock.sweep(london(2026, 11, 19, 9, 1))["contacts_stale"]["raised"] == 1
    assert Episode.objects.get(pk=case.pk).state == State.ADDRESS_VERIFICATION


def test_a_failed_contact_at_the_event_is_not_raised_again_by_the_sweep(clock: Clock, la: LocalAuthority) -> None:
    case = make_episode(State.MONITORING, la=la, first_contact_at=london(2026, 10, 1, 9))
    contacts_mark_stale(episode_id=case.pk, as_of=clock.at(london(2026, 11, 20, 9, 0)), reason="Letter returned")

    assert only(clock.sweep(london(2026, 11, 20, 9, 15))) == {}
    assert Escalation.objects.filter(episode=case, rule="contacts_stale").count() == 1


def test_stale_contacts_verified_again_resolve_the_escalation(clock: Clock, la: LocalAuthority) -> None:
    case = make_episode(State.MONITORING, la=la, contacts_verified_at=london(2025, 1, 1, 9))
    clock.sweep(london(2026, 11, 20, 9, 0))
    Episode.objects.filter(pk=case.pk).update(contacts_stale_at=None, contacts_verified_at=london(2026, 11, 23, 9))

    counts = clock.sweep(london(2026, 11, 23, 9, 15))

    assert counts["contacts_stale"]["resolved"] == 1
    assert not open_escalations("contacts_stale", case)


# --- enquiry_overdue: no first contact K calendar days after receipt -------------------------------


def test_enquiry_overdue_fires_k_calendar_days_after_receipt_weekend_or_not(clock: Clock, la: LocalAuthority) -> None:
    # Received Friday 6 November; K = 15 calendar days: Saturday 21 November.
    case = make_episode(State.ADDRESS_VERIFICATION, la=la, received_on=date(2026, 11, 6))
    contacted = make_episode(
        State.ADDRESS_VERIFICATION, la=la, received_on=date(2026, 11, 6), first_contact_at=london(2026, 11, 10, 9)
    )
    later = make_episode(State.ADDRESS_VERIFICATION, la=la, received_on=date(2026, 11, 7))
    past_the_enquiry = make_episode(State.MONITORING, la=la, received_on=date(2026, 1, 6))

    assert clock.sweep(london(2026, 11, 20, 23, 59))["enquiry_overdue"]["raised"] == 0
    assert clock.sweep(london(2026, 11, 21, 0, 15))["enquiry_overdue"]["raised"] == 1

    [escalation] = open_escalations("enquiry_overdue")
    assert escalation.episode_id == case.pk
    assert escalation.owner_role == Role.EHE_MANAGER
    for quiet in (contacted, later, past_the_enquiry):
        assert not open_escalations("enquiry_overdue", quiet)


def test_a_first_contact_resolves_enquiry_overdue_at_the_event(clock: Clock, la: LocalAuthority) -> None:
    case = make_episode(State.EDUCATION_ENQUIRY, la=la, received_on=date(2026, 11, 2))
    bystander = make_episode(State.EDUCATION_ENQUIRY, la=la, received_on=date(2026, 11, 2))
    clock.sweep(london(2026, 11, 17, 9, 0))
    assert len(open_escalations("enquiry_overdue")) == 2

    Episode.objects.filter(pk=case.pk).update(first_contact_at=london(2026, 11, 18, 10, 0))
    counts = episode_rules_evaluate(episode_id=case.pk, as_of=clock.at(london(2026, 11, 18, 10, 0)))

    assert counts["enquiry_overdue"]["resolved"] == 1
    assert not open_escalations("enquiry_overdue", case)
    assert open_escalations("enquiry_overdue", bystander)  # the event evaluates its own case only


# --- the evaluation at an event skips the steps that would find nothing --------------------------


def _every_step(episode: Episode, as_of: datetime) -> dict[str, dict[str, int]]:
    """Every step of the sweep for one episode, in order, none skipped, rolled back: what the
    evaluation at an event did before it probed the steps."""
    run = sweeps._Run(as_of, [sweeps.LaClock.of(episode.local_authority, as_of)], [episode.pk], sweeps._empty_counts())
    with transaction.atomic():
        for step in sweeps._steps(False):
            step(run)
        transaction.set_rollback(True)
    return run.counts


def _event_cases(la: LocalAuthority, staff: dict[str, User]) -> dict[str, Episode]:
    contacted = {"first_contact_at": london(2025, 6, 1, 10)}
    return {
        # Marking contacts stale enables the move, and the move the escalation: the steps chain.
        "stale chain": make_episode(
            State.MONITORING,
            la=la,
            assigned_officer=staff["officer"],
            contacts_verified_at=london(2025, 10, 1, 10),
            **contacted,
        ),
        "review falls due": make_episode(State.MONITORING, la=la, review_due_on=date(2026, 11, 25), **contacted),
        "review overdue": make_episode(State.REVIEW_DUE, la=la, review_due_on=date(2026, 11, 2), **contacted),
        "enquiry overdue": make_episode(State.EDUCATION_ENQUIRY, la=la, received_on=date(2026, 9, 1)),
        "unverified": make_episode(State.ADDRESS_VERIFICATION, la=la, received_on=date(2026, 9, 1)),
        "consent": make_episode(State.AWAITING_CONSENT, la=la),
        "facts of the child": make_episode(
            State.ADDRESS_VERIFICATION,
            child=ChildFactory(
                local_authority=la, sen_status=SenStatus.EHCP, social_care_status=SocialCareStatus.CHILD_PROTECTION_PLAN
            ),
            concern_at_intake=True,
        ),
        "quiet": make_episode(State.MONITORING, la=la, **contacted),
        "notified": make_episode(State.NOTIFIED, la=la),
    }


@pytest.mark.parametrize(
    "case",
    [
        "stale chain",
        "review falls due",
        "review overdue",
        "enquiry overdue",
        "unverified",
        "consent",
        "facts of the child",
        "quiet",
        "notified",
    ],
)
def test_the_event_does_what_every_step_in_order_would(
    clock: Clock, la: LocalAuthority, staff: dict[str, User], case: str
) -> None:
    episode = _event_cases(la, staff)[case]
    as_of = clock.at(london(2026, 11, 20, 10, 0))
    expected = _every_step(episode, as_of)

    assert sweep_run(as_of=as_of, episode_ids=[episode.pk], climb=False, dry_run=True) == expected
    assert episode_rules_evaluate(episode_id=episode.pk, as_of=as_of) == expected


def test_the_steps_a_step_enables_still_run_at_the_event(
    clock: Clock, la: LocalAuthority, staff: dict[str, User]
) -> None:
    case = _event_cases(la, staff)["stale chain"]

    counts = episode_rules_evaluate(episode_id=case.pk, as_of=clock.at(london(2026, 11, 20, 10, 0)))

    assert counts["contacts_stale"] == {"raised": 1, "resolved": 0, "climbed": 0, "moved": 1}
    assert Episode.objects.get(pk=case.pk).state == State.ADDRESS_VERIFICATION
    assert open_escalations("contacts_stale", case)


def test_an_event_on_a_case_no_rule_touches_is_a_few_statements(
    clock: Clock, la: LocalAuthority, staff: dict[str, User], django_assert_max_num_queries: Any
) -> None:
    case = _event_cases(la, staff)["quiet"]
    as_of = clock.at(london(2026, 11, 20, 10, 0))
    episode_rules_evaluate(episode_id=case.pk, as_of=as_of)

    # The clock (its facts and its LA: unchanged, so not written), the case's LA, one probe of
    # every step; each of some twenty steps was a statement of its own before.
    with django_assert_max_num_queries(4):
        assert only(episode_rules_evaluate(episode_id=case.pk, as_of=as_of)) == {}


def test_where_the_home_check_duty_applies_the_child_must_also_be_seen(clock: Clock, la: LocalAuthority) -> None:
    la.home_check_duty_commenced = True
    la.save()
    case = make_episode(
        State.EDUCATION_ENQUIRY, la=la, received_on=date(2026, 11, 2), first_contact_at=london(2026, 11, 3, 9)
    )

    assert clock.sweep(london(2026, 11, 17, 9, 0))["enquiry_overdue"]["raised"] == 1

    Episode.objects.filter(pk=case.pk).update(child_seen_at_home_at=london(2026, 11, 18, 14, 0))
    assert clock.sweep(london(2026, 11, 18, 14, 15))["enquiry_overdue"]["resolved"] == 1


# --- review_falls_due and review_overdue -----------------------------------------------------------


def test_a_review_falls_due_w_working_days_before_its_date(clock: Clock, la: LocalAuthority) -> None:
    # Review on Friday 11 December; W = 20 working days before: Friday 13 November.
    case = make_episode(State.MONITORING, la=la, review_due_on=date(2026, 12, 11))
    nearest = make_episode(State.MONITORING, la=la, review_due_on=date(2026, 12, 14))

    assert clock.sweep(london(2026, 11, 12, 23, 59))["review_falls_due"]["moved"] == 0
    counts = clock.sweep(london(2026, 11, 13, 0, 15))

    assert only(counts) == {"review_falls_due": {"moved": 1}}
    assert Episode.objects.get(pk=case.pk).state == State.REVIEW_DUE
    assert Episode.objects.get(pk=nearest.pk).state == State.MONITORING
    log = TransitionLog.objects.filter(episode=case).latest("id")
    assert (log.transition, log.to_state, log.at) == ("review_falls_due", State.REVIEW_DUE, london(2026, 11, 13, 0, 15))
    assert only(clock.sweep(london(2026, 11, 13, 0, 30))) == {}


def test_a_review_over_christmas_falls_due_earlier_by_the_bank_holidays(clock: Clock, la: LocalAuthority) -> None:
    # Review on Tuesday 5 January 2027: 20 working days before is Thursday 3 December 2026
    # (without 25 and 28 December and 1 January it would be Tuesday 8 December).
    assert add_working_days(date(2026, 12, 3), 20) == date(2027, 1, 5)
    case = make_episode(State.MONITORING, la=la, review_due_on=date(2027, 1, 5))

    clock.sweep(london(2026, 12, 2, 12, 0))
    assert Episode.objects.get(pk=case.pk).state == State.MONITORING
    clock.sweep(london(2026, 12, 3, 0, 15))
    assert Episode.objects.get(pk=case.pk).state == State.REVIEW_DUE


def test_review_overdue_fires_on_the_first_working_day_after_the_review_date(
    clock: Clock, la: LocalAuthority, staff: dict[str, User]
) -> None:
    case = make_episode(State.REVIEW_DUE, la=la, review_due_on=date(2026, 12, 11))  # a Friday

    for weekend in (london(2026, 12, 11, 23, 0), london(2026, 12, 12, 9, 0), london(2026, 12, 13, 9, 0)):
        assert clock.sweep(weekend)["review_overdue"]["raised"] == 0
    assert clock.sweep(london(2026, 12, 14, 0, 15))["review_overdue"]["raised"] == 1

    [escalation] = open_escalations("review_overdue", case)
    assert (escalation.owner_role, escalation.owner_user_id) == (Role.EHE_OFFICER, None)  # unassigned: team queue
    assert escalation.due_at == london(2026, 12, 30, 17, 0)  # 10 working days, 25 and 28 December excluded


def test_review_overdue_waits_for_the_bank_holidays(clock: Clock, la: LocalAuthority) -> None:
    make_episode(State.REVIEW_DUE, la=la, review_due_on=date(2026, 12, 24))

    for day in (25, 26, 27, 28):
        assert clock.sweep(london(2026, 12, day, 12, 0))["review_overdue"]["raised"] == 0
    assert clock.sweep(london(2026, 12, 29, 0, 15))["review_overdue"]["raised"] == 1


def test_holding_the_review_resolves_review_overdue(clock: Clock, la: LocalAuthority, staff: dict[str, User]) -> None:
    case = make_episode(State.REVIEW_DUE, la=la, review_due_on=date(2026, 12, 11))
    clock.sweep(london(2026, 12, 14, 9, 0))
    episode_transition(
        episode_id=case.pk,
        transition="provision_suitable",
        actor=staff["officer"],
        expected_version=None,
        next_review_on=date(2027, 12, 10),
        as_of=clock.at(london(2026, 12, 14, 11, 0)),
    )

    counts = clock.sweep(london(2026, 12, 14, 11, 15))

    assert counts["review_overdue"]["resolved"] == 1
    assert not open_escalations("review_overdue", case)


# --- consent_required, sen_notify, social_care_known -----------------------------------------------


def test_consent_required_is_raised_for_a_case_waiting_without_one_and_resolved_by_the_decision(
    clock: Clock, la: LocalAuthority, staff: dict[str, User]
) -> None:
    case = make_episode(State.AWAITING_CONSENT, la=la)
    make_episode(State.ADDRESS_VERIFICATION, la=la, first_contact_at=timezone.now())

    assert only(clock.sweep(london(2026, 11, 2, 9, 15))) == {"consent_required": {"raised": 1}}
    [escalation] = open_escalations("consent_required")
    assert escalation.owner_role == Role.EHE_MANAGER

    episode_transition(
        episode_id=case.pk,
        transition="consent_granted",
        actor=staff["manager"],
        expected_version=None,
        as_of=clock.at(london(2026, 11, 3, 10, 0)),
    )
    assert clock.sweep(london(2026, 11, 3, 10, 15))["consent_required"]["resolved"] == 1


def test_sen_notify_tells_the_sen_inbox_once_per_episode(clock: Clock, la: LocalAuthority) -> None:
    child = ChildFactory(local_authority=la, sen_status=SenStatus.EHCP)
    case = make_episode(State.MONITORING, child=child)
    make_episode(State.MONITORING, la=la)  # no EHCP

    assert clock.sweep(london(2026, 11, 2, 9, 15))["sen_notify"]["raised"] == 1
    assert clock.sweep(london(2026, 11, 9, 9, 15))["sen_notify"]["raised"] == 0

    [escalation] = Escalation.objects.filter(rule="sen_notify")
    assert escalation.episode_id == case.pk
    assert escalation.resolved_at == london(2026, 11, 2, 9, 15)  # notify-only: resolved as it is written
    [message] = Message.objects.filter(recipient_email=la.sen_team_email)
    assert message.payload == {"case_reference": case.reference, "summary": RULES["sen_notify"].summary}


def test_social_care_known_when_a_child_becomes_known_and_never_resolved_by_the_sweep(
    clock: Clock, la: LocalAuthority, staff: dict[str, User]
) -> None:
    child = ChildFactory(local_authority=la)
    case = make_episode(State.MONITORING, child=child)
    assert clock.sweep(london(2026, 11, 2, 9, 15))["social_care_known"]["raised"] == 0

    child.social_care_status = SocialCareStatus.CHILD_IN_NEED
    child.save()
    assert clock.sweep(london(2026, 11, 2, 9, 30))["social_care_known"]["raised"] == 1
    [escalation] = open_escalations("social_care_known", case)
    assert escalation.owner_role == Role.CSPA_DUTY_WORKER

    child.social_care_status = SocialCareStatus.NONE
    child.save()
    for day in range(3, 10):
        clock.sweep(london(2026, 11, day, 9, 30))
    assert Escalation.objects.get(pk=escalation.pk).resolved_at is None  # only a decision resolves it

    escalation_decide(
        escalation_id=escalation.pk,
        actor=staff["duty"],
        decision="no_further_action",
        as_of=clock.at(london(2026, 11, 10, 9, 0)),
    )
    assert only(clock.sweep(london(2026, 11, 10, 9, 15))) == {}  # once per episode


# --- concern_ticked: the cut-off time, weekends, bank holidays, and the ladder ---------------------


def concern_case(la: LocalAuthority, at: datetime) -> Episode:
    child = ChildFactory(local_authority=la)
    return episode_open(child=child, source=Source.SCHOOL, received_on=at.date(), as_of=at, concern_at_intake=True)


def test_a_concern_after_friday_cut_off_climbs_at_monday_ten_then_tuesday_five(
    clock: Clock, la: LocalAuthority, staff: dict[str, User]
) -> None:
    case = concern_case(la, clock.at(london(2026, 11, 27, 16, 55)))
    [escalation] = open_escalations("concern_ticked", case)
    assert escalation.due_at == london(2026, 11, 30, 10, 0)

    for moment in (london(2026, 11, 28, 12, 0), london(2026, 11, 29, 12, 0), london(2026, 11, 30, 9, 59)):
        assert clock.sweep(moment)["concern_ticked"]["climbed"] == 0

    assert clock.sweep(london(2026, 11, 30, 10, 0))["concern_ticked"]["climbed"] == 1
    row = Escalation.objects.get(pk=escalation.pk)
    assert (row.level, row.owner_role, row.due_at) == (2, Role.CSPA_MANAGER, london(2026, 12, 1, 17, 0))
    told = Message.objects.filter(idempotency_key__startswith=f"escalation:{row.pk}:climbed:2:")
    assert set(told.values_list("recipient_user_id", flat=True)) == {staff["cspa_manager"].pk}

    assert clock.sweep(london(2026, 12, 1, 16, 59))["concern_ticked"]["climbed"] == 0
    assert clock.sweep(london(2026, 12, 1, 17, 0))["concern_ticked"]["climbed"] == 1
    row = Escalation.objects.get(pk=escalation.pk)
    assert (row.level, row.owner_role, row.due_at) == (3, Role.HEAD_OF_SERVICE, london(2026, 12, 2, 17, 0))

    assert clock.sweep(london(2026, 12, 10, 9, 0))["concern_ticked"]["climbed"] == 0  # the top rung
    assert kinds(row) == [("raised", 1), ("climbed", 2), ("climbed", 3)]
    assert Escalation.objects.filter(episode=case, rule="concern_ticked").count() == 1
    assert Escalation.objects.get(pk=escalation.pk).resolved_at is None  # never resolved automatically


def test_a_concern_before_the_cut_off_is_due_at_close_of_business(clock: Clock, la: LocalAuthority) -> None:
    case = concern_case(la, clock.at(london(2026, 11, 25, 15, 59)))
    [escalation] = open_escalations("concern_ticked", case)
    assert escalation.due_at == london(2026, 11, 25, 17, 0)
    assert clock.sweep(london(2026, 11, 25, 16, 59))["concern_ticked"]["climbed"] == 0
    assert clock.sweep(london(2026, 11, 25, 17, 0))["concern_ticked"]["climbed"] == 1


def test_a_concern_on_christmas_eve_afternoon_waits_for_the_bank_holidays(clock: Clock, la: LocalAuthority) -> None:
    case = concern_case(la, clock.at(london(2026, 12, 24, 16, 30)))
    [escalation] = open_escalations("concern_ticked", case)
    assert escalation.due_at == london(2026, 12, 29, 10, 0)

    for moment in (london(2026, 12, 25, 10, 0), london(2026, 12, 28, 10, 0), london(2026, 12, 29, 9, 45)):
        assert clock.sweep(moment)["concern_ticked"]["climbed"] == 0
    assert clock.sweep(london(2026, 12, 29, 10, 0))["concern_ticked"]["climbed"] == 1
    # The next rung is one working day on: Wednesday 30 December, 17:00.
    assert Escalation.objects.get(pk=escalation.pk).due_at == london(2026, 12, 30, 17, 0)


def test_an_acknowledged_escalation_does_not_climb(clock: Clock, la: LocalAuthority, staff: dict[str, User]) -> None:
    case = concern_case(la, clock.at(london(2026, 11, 27, 16, 55)))
    [escalation] = open_escalations("concern_ticked", case)
    escalation_acknowledge(escalation=escalation, actor=staff["duty"], as_of=clock.at(london(2026, 11, 30, 9, 0)))

    assert clock.sweep(london(2026, 12, 7, 9, 0))["concern_ticked"]["climbed"] == 0
    assert Escalation.objects.get(pk=escalation.pk).level == 1


def test_a_front_door_decision_resolves_the_concern_and_moves_the_case_on(
    clock: Clock, la: LocalAuthority, staff: dict[str, User]
) -> None:
    case = concern_case(la, clock.at(london(2026, 11, 27, 16, 55)))
    clock.sweep(london(2026, 11, 30, 10, 0))  # climbed to the C-SPA manager
    [escalation] = open_escalations("concern_ticked", case)

    escalation_decide(
        escalation_id=escalation.pk,
        actor=staff["duty"],
        decision="no_further_action",
        reference="CSPA-99",
        as_of=clock.at(london(2026, 11, 30, 11, 0)),
    )

    row = Escalation.objects.get(pk=escalation.pk)
    assert (row.decision, row.decision_reference, row.resolved_at) == (
        "no_further_action",
        "CSPA-99",
        london(2026, 11, 30, 11, 0),
    )
    assert [k for k, _ in kinds(row)] == ["raised", "climbed", "acknowledged", "decided", "resolved"]
    assert Episode.objects.get(pk=case.pk).state == State.ADDRESS_VERIFICATION
    assert only(clock.sweep(london(2026, 11, 30, 11, 15))) == {}


def test_only_staff_on_the_ladder_may_decide(clock: Clock, la: LocalAuthority, staff: dict[str, User]) -> None:
    case = concern_case(la, clock.at(london(2026, 11, 25, 10, 0)))
    [escalation] = open_escalations("concern_ticked", case)

    with pytest.raises(Exception, match="cannot decide"):
        escalation_decide(
            escalation_id=escalation.pk, actor=staff["officer"], decision="no_further_action", as_of=timezone.now()
        )
    assert Escalation.objects.get(pk=escalation.pk).resolved_at is None


def test_a_concern_recorded_on_an_activity_without_its_escalation_is_caught_by_the_sweep(
    clock: Clock, la: LocalAuthority, staff: dict[str, User]
) -> None:
    case = make_episode(State.EDUCATION_ENQUIRY, la=la, first_contact_at=timezone.now())
    Activity.objects.create(
        episode=case,
        kind=ActivityKind.HOME_VISIT,
        occurred_at=london(2026, 11, 2, 8, 0),
        summary="Visit",
        outcome=ActivityOutcome.PARENT_REACHED,
        recorded_by=staff["officer"],
        recorded_at=london(2026, 11, 2, 8, 30),
        child_seen=True,
        safeguarding_concern=True,
    )

    assert clock.sweep(london(2026, 11, 2, 9, 0))["concern_ticked"]["raised"] == 1
    assert Episode.objects.get(pk=case.pk).state == State.SAFEGUARDING_REVIEW
    assert clock.sweep(london(2026, 11, 2, 9, 15))["concern_ticked"]["raised"] == 0


# --- Each rung of each ladder, through the sweep -----------------------------------------------------

LADDERS: dict[str, list[str]] = {
    "concern_ticked": [Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER, Role.HEAD_OF_SERVICE],
    "social_care_known": [Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER, Role.HEAD_OF_SERVICE],
    "consent_required": [Role.EHE_MANAGER, Role.HEAD_OF_SERVICE],
    "contacts_unverified": [Role.EHE_MANAGER, Role.HEAD_OF_SERVICE],
    "cme_enquiry": [Role.EHE_MANAGER, Role.HEAD_OF_SERVICE],
    "contacts_stale": ["officer", Role.EHE_MANAGER, Role.HEAD_OF_SERVICE],
    "enquiry_overdue": [Role.EHE_MANAGER, Role.HEAD_OF_SERVICE],
    "review_overdue": ["officer", Role.EHE_MANAGER, Role.HEAD_OF_SERVICE],
    "audit_action_overdue": [Role.EHE_MANAGER, Role.HEAD_OF_SERVICE],
    "next_action_overdue": ["officer", Role.EHE_MANAGER, Role.HEAD_OF_SERVICE],
}


def test_every_escalating_rule_has_a_ladder_here() -> None:
    assert set(LADDERS) == {name for name, rule in RULES.items() if not rule.notify_only}


@pytest.mark.parametrize("rule", sorted(LADDERS))
def test_the_sweep_climbs_each_rung_once_and_tells_each_new_owner(
    rule: str, clock: Clock, la: LocalAuthority, staff: dict[str, User]
) -> None:
    officer = staff["officer"]
    holders = {
        Role.EHE_MANAGER: staff["manager"],
        Role.HEAD_OF_SERVICE: staff["head"],
        Role.CSPA_DUTY_WORKER: staff["duty"],
        Role.CSPA_MANAGER: staff["cspa_manager"],
        "officer": officer,
    }
    # A case whose own condition keeps the escalation standing, so the sweep only climbs it.
    fields: dict[str, Any] = {"assigned_officer": officer, "received_on": date(2026, 10, 1)}
    state = {
        "consent_required": State.AWAITING_CONSENT,
        "review_overdue": State.REVIEW_DUE,
        "next_action_overdue": State.S437_NOTICE,
    }.get(rule, State.ADDRESS_VERIFICATION)
    if rule == "review_overdue":
        fields["review_due_on"] = date(2026, 10, 30)
    if rule == "contacts_stale":
        fields["contacts_stale_at"] = london(2026, 10, 30, 9)
    if rule == "next_action_overdue":  # the notice period ended on 16 October; nothing else holds the case
        verified = london(2026, 10, 2, 9)
        fields |= {"s437_served_on": date(2026, 10, 1), "contacts_verified_at": verified, "first_contact_at": verified}
    case = make_episode(state, la=la, **fields)
    if rule == "audit_action_overdue":
        make_audit_action(case, owner=officer, due_on=date(2026, 10, 20), manager=staff["manager"])
    escalation, _ = escalation_raise(episode=case, rule_name=rule, as_of=clock.at(london(2026, 11, 2, 9, 0)))

    for level, owner in enumerate(LADDERS[rule], start=1):
        row = Escalation.objects.get(pk=escalation.pk)
        expected = ("", officer.pk) if owner == "officer" else (owner, None)
        assert (row.level, row.owner_role, row.owner_user_id) == (level, *expected)
        if level > 1:
            # The new owner is told: a named person (and a safeguarding rung's role holders) by a
            # push; a role by the escalation showing on its holders' "Escalations for you".
            keys = Message.objects.filter(idempotency_key__startswith=f"escalation:{row.pk}:climbed:{level}:")
            pushed = owner == "officer" or RULES[rule].safeguarding
            assert set(keys.values_list("recipient_user_id", flat=True)) == ({holders[owner].pk} if pushed else set())
            assert row in escalations_for(holders[owner])
        if level == len(LADDERS[rule]):
            break
        before = row.due_at - timedelta(minutes=1)
        assert clock.sweep(before)[rule]["climbed"] == 0
        assert clock.sweep(row.due_at)[rule]["climbed"] == 1
        assert clock.sweep(row.due_at + timedelta(minutes=15))[rule]["climbed"] == 0

    top = Escalation.objects.get(pk=escalation.pk)
    assert clock.sweep(top.due_at + timedelta(days=30))[rule]["climbed"] == 0
    assert Escalation.objects.get(pk=escalation.pk).level == len(LADDERS[rule])
    assert [k for k, _ in kinds(top)] == ["raised", *["climbed"] * (len(LADDERS[rule]) - 1)]


def test_notify_only_rules_never_climb(clock: Clock, la: LocalAuthority) -> None:
    child = ChildFactory(local_authority=la, sen_status=SenStatus.EHCP)
    case = make_episode(State.MONITORING, child=child)
    escalation, _ = escalation_raise(episode=case, rule_name="sen_notify", as_of=clock.at(london(2026, 11, 2, 9)))

    clock.sweep(london(2027, 2, 1, 9, 0))

    assert Escalation.objects.get(pk=escalation.pk).level == 1
    assert kinds(escalation) == [("raised", 1)]


# --- Dry runs, scope, one sweep at a time, the command ---------------------------------------------


def _snapshot() -> dict[str, Any]:
    return {
        "escalations": sorted(
            Escalation.objects.values_list("id", "level", "owner_role", "owner_user_id", "resolved_at")
        ),
        "events": EscalationEvent.objects.count(),
        "messages": Message.objects.count(),
        "transitions": TransitionLog.objects.count(),
        "episodes": sorted(
            Episode.objects.values_list("id", "state", "version", "assigned_officer_id", "contacts_stale_at")
        ),
    }


def _busy_world(la: LocalAuthority, staff: dict[str, User]) -> None:
    unverified(la, date(2026, 10, 1))
    make_episode(State.MONITORING, la=la, review_due_on=date(2026, 11, 20))
    make_episode(State.MONITORING, la=la, contacts_verified_at=london(2025, 1, 1, 9))
    make_episode(State.AWAITING_CONSENT, la=la)
    concern_case(la, london(2026, 10, 30, 9, 0))


def test_a_dry_run_reports_what_a_real_run_does_and_changes_nothing(
    clock: Clock, la: LocalAuthority, staff: dict[str, User]
) -> None:
    _busy_world(la, staff)
    before = _snapshot()

    dry = clock.sweep(london(2026, 11, 2, 9, 15), dry_run=True)

    assert _snapshot() == before
    assert dry == clock.sweep(london(2026, 11, 2, 9, 15))
    assert only(dry)
    assert _snapshot() != before


def test_a_sweep_can_be_limited_to_one_la(
    clock: Clock, la: LocalAuthority, other_la: LocalAuthority, staff: dict[str, User]
) -> None:
    mine = unverified(la, date(2026, 10, 1))
    theirs = unverified(other_la, date(2026, 10, 1))

    clock.sweep(la_code=other_la.dfe_code)

    assert open_escalations("contacts_unverified", theirs)
    assert not open_escalations("contacts_unverified", mine)
    with pytest.raises(LocalAuthority.DoesNotExist):
        clock.sweep(la_code="999")


@pytest.mark.django_db(transaction=True)
def test_only_one_full_sweep_runs_at_a_time(la: LocalAuthority) -> None:
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [SWEEP_LOCK])
        with pytest.raises(SweepBusy):
            sweep_run(as_of=timezone.now())
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [SWEEP_LOCK])
        assert set(sweep_run(as_of=timezone.now())) == set(SWEEP_NAMES)
    finally:
        other.close()


def test_run_escalations_prints_the_counts_per_rule(clock: Clock, la: LocalAuthority, staff: dict[str, User]) -> None:
    _busy_world(la, staff)
    out = io.StringIO()

    call_command("run_escalations", "--as-of", "2026-11-02T09:15:00", "--la", la.dfe_code, stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == "Escalation sweep as of 2026-11-02T09:15:00+00:00, LA 936"
    assert lines[1].split() == ["rule", "raised", "resolved", "climbed", "moved"]
    table = {line.split()[0]: [int(n) for n in line.split()[1:]] for line in lines[2:]}
    assert set(table) == {*SWEEP_NAMES, "total"}
    assert table["contacts_unverified"] == [1, 0, 0, 0]
    assert table["consent_required"] == [1, 0, 0, 0]
    assert table["review_falls_due"] == [0, 0, 0, 1]
    assert table["contacts_stale"] == [1, 0, 0, 1]


def test_run_escalations_dry_run_on_the_demo_data_changes_nothing(settings: Any) -> None:
    call_command("load_reference_data", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    before = _snapshot()
    out = io.StringIO()

    call_command("run_escalations", "--dry-run", stdout=out)

    assert _snapshot() == before
    text = out.getvalue()
    assert "(dry run: nothing was changed)" in text
    total = text.splitlines()[-1].split()
    assert total[0] == "total"
    assert sum(int(n) for n in total[1:]) > 0


# --- The managers' digest ----------------------------------------------------------------------------


def test_the_digest_goes_to_each_manager_on_working_days_with_references_only(
    clock: Clock, la: LocalAuthority, staff: dict[str, User]
) -> None:
    child = ChildFactory(local_authority=la, legal_first_name="Ottoline", legal_last_name="Vasquez-Brennan")
    case = make_episode(
        State.ADDRESS_VERIFICATION, child=child, received_on=date(2026, 10, 1), first_contact_at=timezone.now()
    )
    clock.sweep(london(2026, 11, 2, 9, 0))
    second_manager = make_user(Role.EHE_MANAGER, la)

    assert managers_digest_send(as_of=clock.at(london(2026, 11, 7, 7, 30))) == 0  # Saturday
    assert managers_digest_send(as_of=clock.at(london(2026, 12, 25, 7, 30))) == 0  # Christmas Day
    assert managers_digest_send(as_of=clock.at(london(2026, 11, 20, 7, 30))) == 2
    assert managers_digest_send(as_of=clock.at(london(2026, 11, 20, 7, 31))) == 2  # written once

    digests = Message.objects.filter(template="emails/digest")
    assert set(digests.values_list("recipient_user_id", flat=True)) == {staff["manager"].pk, second_manager.pk}
    payload = digests.first().payload  # type: ignore[union-attr]
    assert payload["open_total"] == len(open_escalations("contacts_unverified")) + len(open_escalations("cme_enquiry"))
    assert payload["overdue_cases"] == [case.reference]
    assert "Ottoline" not in json.dumps(payload)
    assert "Vasquez" not in json.dumps(payload)
