"""Absence cover (the officer_absent rule): which cases move, where they go, who is told, and that
nothing moves back by itself when the officer returns."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from ehe_register.models import Absence, AbsenceCover, AbsenceKind, LocalAuthority, User
from ehe_register.roles import Role
from notifications.models import Channel, Message
from tests.factories import make_episode, make_user
from workflows.models import Episode, Escalation, EscalationEvent
from workflows.services.casework import episode_assign
from workflows.services.escalations import escalation_raise, escalations_follow_assignment
from workflows.states import State
from workflows.sweeps import sweep_run

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
WEDNESDAY = datetime(2026, 11, 11, 8, 0, tzinfo=LONDON)  # 5 working days on: Wednesday 18 November


@pytest.fixture
def traveller() -> Iterator[Any]:
    with time_machine.travel(WEDNESDAY, tick=False) as t:
        yield t


def sweep(traveller: Any, at: datetime) -> dict[str, dict[str, int]]:
    traveller.move_to(at)
    return sweep_run(as_of=timezone.now())


@pytest.fixture
def manager(la: LocalAuthority) -> User:
    return make_user(Role.EHE_MANAGER, la)


def absent(officer: User, starts_on: date, ends_on: date | None = None) -> Absence:
    return Absence.objects.create(
        officer=officer,
        starts_on=starts_on,
        ends_on=ends_on,
        kind=AbsenceKind.UNEXPECTED,
        recorded_by=officer,
        recorded_at=timezone.now(),
    )


def case_of(officer: User, next_action_due: date | None, **fields: Any) -> Episode:
    fields.setdefault("first_contact_at", timezone.now())
    return make_episode(
        State.EDUCATION_ENQUIRY,
        la=officer.local_authority,
        assigned_officer=officer,
        next_action_due=next_action_due,
        **fields,
    )


def held_by(episode: Episode) -> int | None:
    return Episode.objects.get(pk=episode.pk).assigned_officer_id


def test_with_team_queue_cover_the_due_cases_of_an_absent_officer_go_to_the_team_queue(
    traveller: Any, la: LocalAuthority, manager: User
) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    due_friday = case_of(officer, date(2026, 11, 13))
    due_in_five = case_of(officer, date(2026, 11, 18))  # the 5th working day: still within
    due_in_six = case_of(officer, date(2026, 11, 19))  # the nearest case that stays
    overdue = case_of(officer, date(2026, 11, 2))
    version = due_friday.version
    absent(officer, date(2026, 11, 11))

    counts = sweep(traveller, WEDNESDAY)

    assert counts["officer_absent"] == {"raised": 3, "resolved": 0, "climbed": 0, "moved": 3}
    for moved in (due_friday, due_in_five, overdue):
        assert held_by(moved) is None
    assert held_by(due_in_six) == officer.pk
    episode = Episode.objects.get(pk=due_friday.pk)
    assert (episode.version, episode.last_changed_at) == (version + 1, WEDNESDAY)

    told = Escalation.objects.filter(rule="officer_absent", episode=due_friday).get()
    assert (told.owner_role, told.resolved_at, told.level) == (Role.EHE_MANAGER, WEDNESDAY, 1)  # notify-only
    events = list(EscalationEvent.objects.filter(escalation=told).order_by("id").values_list("kind", "note"))
    assert events == [
        ("raised", "The assigned officer is absent"),
        ("reassigned", f"Moved from {officer.display_name} (absent) to the team queue"),
    ]
    # Owned by the EHE manager role: told in the morning digest and the dashboard, never one
    # message per case per manager (DESIGN section 5, "Who is told").
    assert not Message.objects.filter(idempotency_key__startswith=f"escalation:{told.pk}:").exists()


def test_an_absence_that_has_not_started_or_has_ended_moves_nothing(traveller: Any, la: LocalAuthority) -> None:
    tomorrow, returned = make_user(Role.EHE_OFFICER, la), make_user(Role.EHE_OFFICER, la)
    cases = [case_of(tomorrow, date(2026, 11, 12)), case_of(returned, date(2026, 11, 12))]
    absent(tomorrow, date(2026, 11, 12))
    absent(returned, date(2026, 11, 2), ends_on=date(2026, 11, 10))

    assert sweep(traveller, WEDNESDAY)["officer_absent"]["moved"] == 0
    assert [held_by(c) for c in cases] == [tomorrow.pk, returned.pk]


def test_an_open_escalation_moves_the_case_and_follows_it(traveller: Any, la: LocalAuthority, manager: User) -> None:
    officer, colleague = make_user(Role.EHE_OFFICER, la), make_user(Role.EHE_OFFICER, la)
    la.absence_cover = AbsenceCover.LEAST_LOADED
    la.save()
    case = case_of(officer, None, contacts_stale_at=datetime(2026, 11, 2, 9, tzinfo=LONDON))
    escalation, _ = escalation_raise(
        episode=case, rule_name="contacts_stale", as_of=datetime(2026, 11, 10, 9, tzinfo=LONDON)
    )
    assert Escalation.objects.get(pk=escalation.pk).owner_user_id == officer.pk
    absent(officer, date(2026, 11, 10))

    assert sweep(traveller, WEDNESDAY)["officer_absent"]["moved"] == 1

    assert held_by(case) == colleague.pk
    row = Escalation.objects.get(pk=escalation.pk)
    assert (row.owner_role, row.owner_user_id, row.level) == ("", colleague.pk, 1)
    assert EscalationEvent.objects.filter(escalation=row, kind="reassigned").get().note == (
        f"Moved from {officer.display_name} (absent) to {colleague.display_name}"
    )
    assert (
        Message.objects.filter(
            idempotency_key__startswith=f"escalation:{row.pk}:reassigned", recipient_user=colleague
        ).count()
        == 2
    )


def test_least_loaded_cover_picks_the_available_officer_with_fewest_items_due(
    traveller: Any, la: LocalAuthority, other_la: LocalAuthority, manager: User
) -> None:
    la.absence_cover = AbsenceCover.LEAST_LOADED
    la.save()
    absent_officer = make_user(Role.EHE_OFFICER, la)
    busy = make_user(Role.EHE_OFFICER, la)  # 2 items due within 5 working days (and more later)
    lighter = make_user(Role.EHE_OFFICER, la)  # 1 item due
    idle_but_off = make_user(Role.EHE_OFFICER, la)  # nothing due, but absent too
    make_user(Role.EHE_OFFICER, la, is_active=False)  # left: never chosen
    make_user(Role.EHE_OFFICER, other_la)  # another LA's officer: never chosen
    make_user(Role.EHE_MANAGER, la)  # not an officer
    for _ in range(2):
        case_of(busy, date(2026, 11, 12))
    case_of(busy, date(2026, 12, 1))  # not due within the horizon: not counted
    case_of(lighter, date(2026, 11, 16))
    absent(idle_but_off, date(2026, 11, 9), ends_on=date(2026, 11, 20))
    first = case_of(absent_officer, date(2026, 11, 11))
    second = case_of(absent_officer, date(2026, 11, 12))
    absent(absent_officer, date(2026, 11, 11))

    assert sweep(traveller, WEDNESDAY)["officer_absent"]["moved"] == 2

    # The first (most urgent) goes to the lighter officer, who then has 2 items like the busy one;
    # the tie goes to the smaller caseload: the lighter officer's 2 cases against the busy one's 3.
    assert (held_by(first), held_by(second)) == (lighter.pk, lighter.pk)


def test_least_loaded_cover_with_no_one_available_falls_back_to_the_team_queue(
    traveller: Any, la: LocalAuthority
) -> None:
    la.absence_cover = AbsenceCover.LEAST_LOADED
    la.save()
    only_officer = make_user(Role.EHE_OFFICER, la)
    case = case_of(only_officer, date(2026, 11, 12))
    absent(only_officer, date(2026, 11, 11))

    sweep(traveller, WEDNESDAY)

    assert held_by(case) is None


def test_nothing_moves_back_when_the_officer_returns_and_sweeps_repeat_nothing(
    traveller: Any, la: LocalAuthority, manager: User
) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    case = case_of(officer, date(2026, 11, 12))
    absent(officer, date(2026, 11, 11), ends_on=date(2026, 11, 13))
    sweep(traveller, WEDNESDAY)
    messages = Message.objects.count()

    for moment in (
        datetime(2026, 11, 11, 8, 15, tzinfo=LONDON),
        datetime(2026, 11, 12, 8, 0, tzinfo=LONDON),
        datetime(2026, 11, 16, 8, 0, tzinfo=LONDON),  # back at work
    ):
        assert sweep(traveller, moment)["officer_absent"] == {"raised": 0, "resolved": 0, "climbed": 0, "moved": 0}

    assert held_by(case) is None
    assert Escalation.objects.filter(rule="officer_absent").count() == 1
    # Only the case's own clock, run out on the 12th, adds messages: its catch-all escalation.
    assert Message.objects.exclude(payload__rule="next_action_overdue").count() == messages
    assert Escalation.objects.filter(episode=case, rule="next_action_overdue").count() == 1


def test_the_five_working_days_skip_weekends_and_bank_holidays(traveller: Any, la: LocalAuthority) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    # Wednesday 23 December: 24, 29, 30, 31 December and 4 January are the next 5 working days.
    within = case_of(officer, date(2027, 1, 4))
    beyond = case_of(officer, date(2027, 1, 5))
    absent(officer, date(2026, 12, 23))

    sweep(traveller, datetime(2026, 12, 23, 8, 0, tzinfo=LONDON))

    assert (held_by(within), held_by(beyond)) == (None, officer.pk)


def test_a_later_absence_of_the_new_officer_moves_the_case_again(traveller: Any, la: LocalAuthority) -> None:
    la.absence_cover = AbsenceCover.LEAST_LOADED
    la.save()
    first, second = make_user(Role.EHE_OFFICER, la), make_user(Role.EHE_OFFICER, la)
    case = case_of(first, date(2026, 11, 13))
    absent(first, date(2026, 11, 11), ends_on=date(2026, 11, 11))
    sweep(traveller, WEDNESDAY)
    assert held_by(case) == second.pk

    Episode.objects.filter(pk=case.pk).update(next_action_due=date(2026, 11, 17))
    absent(second, date(2026, 11, 12))
    sweep(traveller, datetime(2026, 11, 12, 8, 0, tzinfo=LONDON))

    assert held_by(case) == first.pk
    assert Escalation.objects.filter(rule="officer_absent", episode=case).count() == 2


# --- Escalations follow an assignment -------------------------------------------------------------


def test_after_an_assignment_the_officers_escalations_follow_the_case(
    traveller: Any, la: LocalAuthority, manager: User
) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    case = make_episode(State.REVIEW_DUE, la=la, review_due_on=date(2026, 11, 1))
    escalation, _ = escalation_raise(episode=case, rule_name="review_overdue", as_of=WEDNESDAY)
    other, _ = escalation_raise(episode=case, rule_name="consent_required", as_of=WEDNESDAY)
    assert Escalation.objects.get(pk=escalation.pk).owner_role == Role.EHE_OFFICER  # the team queue

    # A change of officer made some other way than episode_assign (which calls this itself).
    Episode.objects.filter(pk=case.pk).update(assigned_officer=officer)
    followed = escalations_follow_assignment([case.pk], WEDNESDAY, {case.pk: "Assigned by the manager"}, manager)

    assert followed == [escalation.pk]
    row = Escalation.objects.get(pk=escalation.pk)
    assert (row.owner_role, row.owner_user_id) == ("", officer.pk)
    assert Escalation.objects.get(pk=other.pk).owner_role == Role.EHE_MANAGER  # not the officer's to hold
    event = EscalationEvent.objects.filter(escalation=row, kind="reassigned").get()
    assert (event.note, event.actor_name) == ("Assigned by the manager", manager.display_name)
    assert set(
        Message.objects.filter(idempotency_key__startswith=f"escalation:{row.pk}:reassigned").values_list(
            "recipient_user_id", "channel"
        )
    ) == {(officer.pk, Channel.IN_APP), (officer.pk, Channel.EMAIL)}
    assert escalations_follow_assignment([case.pk], WEDNESDAY) == []  # already with its holder


def test_assigning_a_case_moves_the_officers_escalations_with_it(
    traveller: Any, la: LocalAuthority, manager: User
) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    case = make_episode(State.REVIEW_DUE, la=la, review_due_on=date(2026, 11, 1))
    escalation, _ = escalation_raise(episode=case, rule_name="review_overdue", as_of=WEDNESDAY)

    episode_assign(episode_id=case.pk, officer=officer, actor=manager, expected_version=case.version, as_of=WEDNESDAY)

    row = Escalation.objects.get(pk=escalation.pk)
    assert (row.owner_role, row.owner_user_id) == ("", officer.pk)
    event = EscalationEvent.objects.get(escalation=row, kind="reassigned")
    assert (event.note, event.actor_name) == (f"Case assigned to {officer.display_name}", manager.display_name)
