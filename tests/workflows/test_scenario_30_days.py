"""Thirty working days of one LA, swept three times a day (00:15, 10:00, 17:00) on every calendar
day, weekends included, with a frozen clock that moves forward: each escalation appears at the
right sweep, owned by the right person, exactly once, and nothing else is raised.

Working day 0 is Friday 6 November 2026 (day 1 Monday 9 November, day 10 Friday 20 November,
day 20 Friday 4 December, day 25 Friday 11 December, day 26 Monday 14 December, day 30 Friday
18 December); there is no bank holiday in between.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from ehe_register.models import Absence, AbsenceCover, AbsenceKind, LocalAuthority
from ehe_register.roles import Role
from ehe_register.working_days import add_working_days
from notifications.models import Channel, Message
from tests.ehe_register.intake_data import notification_input, with_concern
from tests.factories import SchoolFactory, make_episode, make_user
from workflows.models import Episode, Escalation, EscalationEvent, TransitionLog
from workflows.services.casework import ActivityInput, activity_record, cspa_decide, episode_assign
from workflows.services.escalations import escalation_acknowledge
from workflows.services.submission import notification_submit
from workflows.states import State
from workflows.sweeps import sweep_run

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
DAY_0 = date(2026, 11, 6)
SWEEP_TIMES = (time(0, 15), time(10, 0), time(17, 0))


def day(n: int) -> date:
    return add_working_days(DAY_0, n) if n else DAY_0


def at(n: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day(n), time(hour, minute), tzinfo=LONDON)


def test_thirty_working_days(la: LocalAuthority) -> None:
    assert [day(n) for n in (1, 3, 5, 10, 20, 25, 26, 30)] == [
        date(2026, 11, 9),
        date(2026, 11, 11),
        date(2026, 11, 13),
        date(2026, 11, 20),
        date(2026, 12, 4),
        date(2026, 12, 11),
        date(2026, 12, 14),
        date(2026, 12, 18),
    ]
    la.absence_cover = AbsenceCover.LEAST_LOADED
    la.save()
    people = {
        "duty": make_user(Role.CSPA_DUTY_WORKER, la),
        "cspa_manager": make_user(Role.CSPA_MANAGER, la),
        "manager": make_user(Role.EHE_MANAGER, la),
        "head": make_user(Role.HEAD_OF_SERVICE, la),
        "a": make_user(Role.EHE_OFFICER, la),  # given the new case on day 1, absent from day 3 to day 7
        "b": make_user(Role.EHE_OFFICER, la),  # nothing due: the least loaded
        "c": make_user(Role.EHE_OFFICER, la),  # nothing due, but off sick throughout
        "d": make_user(Role.EHE_OFFICER, la),  # one case with its next action due on day 2
    }
    school = SchoolFactory(local_authority=la)
    submitter = make_user(Role.SCHOOL_USER, la)
    submitter.schools.set([school])

    with time_machine.travel(at(0, 0, 5), tick=False) as traveller:
        # Before day 0: what the LA already holds.
        second_child = make_episode(
            State.MONITORING,
            la=la,
            assigned_officer=people["b"],
            review_due_on=day(25),
            received_on=date(2025, 9, 1),
            first_contact_at=datetime(2025, 9, 3, 10, tzinfo=LONDON),
            contacts_verified_at=datetime(2026, 9, 1, 10, tzinfo=LONDON),
        )
        third_child = make_episode(
            State.EDUCATION_ENQUIRY,
            la=la,
            assigned_officer=people["d"],
            next_action_due=day(2),  # the date the council's previous database held for it
            received_on=date(2026, 10, 1),
            first_contact_at=datetime(2026, 10, 2, 10, tzinfo=LONDON),
            contacts_verified_at=datetime(2026, 10, 15, 10, tzinfo=LONDON),
        )
        Absence.objects.create(
            officer=people["c"],
            starts_on=date(2026, 11, 2),
            kind=AbsenceKind.UNEXPECTED,
            recorded_by=people["manager"],
            recorded_at=timezone.now(),
        )
        first: dict[str, Episode] = {}

        def notify() -> None:
            data = with_concern(notification_input(school, submitter))
            notification = notification_submit(data=data, as_of=timezone.now())
            assert notification.episode is not None
            first["case"] = notification.episode

        def front_door_decides() -> None:
            cspa_decide(
                episode_id=first["case"].pk,
                actor=people["duty"],
                expected_version=None,
                decision="no_further_action",
                as_of=timezone.now(),
            )

        def manager_assigns() -> None:
            episode_assign(
                episode_id=first["case"].pk,
                officer=people["a"],
                actor=people["manager"],
                expected_version=None,
                as_of=timezone.now(),
            )

        def officer_calls_the_parent() -> None:
            activity_record(
                episode_id=first["case"].pk,
                actor=people["a"],
                expected_version=None,
                data=ActivityInput(
                    kind="phone_call",
                    occurred_at=timezone.now(),
                    summary="Spoke to mother about the move to home education",
                    outcome="parent_reached",
                ),
                as_of=timezone.now(),
            )

        def officer_goes_off_sick() -> None:
            Absence.objects.create(
                officer=people["a"],
                starts_on=day(3),
                ends_on=day(7),
                kind=AbsenceKind.UNEXPECTED,
                recorded_by=people["manager"],
                recorded_at=timezone.now(),
            )

        def manager_acknowledges() -> None:
            [unverified] = Escalation.objects.filter(rule="contacts_unverified", resolved_at=None)
            escalation_acknowledge(escalation=unverified, actor=people["manager"], as_of=timezone.now())

        events: list[tuple[datetime, Callable[[], None]]] = [
            (at(0, 16, 55), notify),
            (at(1, 11, 0), front_door_decides),
            (at(1, 12, 0), manager_assigns),
            (at(2, 10, 30), officer_calls_the_parent),
            (at(2, 17, 30), officer_goes_off_sick),
            (at(11, 9, 30), manager_acknowledges),
        ]
        sweeps: list[tuple[datetime, Callable[[], None] | None]] = []
        moment = DAY_0
        while moment <= day(30):
            sweeps += [(datetime.combine(moment, t, tzinfo=LONDON), None) for t in SWEEP_TIMES]
            moment += timedelta(days=1)

        seen: dict[datetime, dict[str, dict[str, int]]] = {}
        for when, action in sorted([*events, *sweeps], key=lambda item: item[0]):
            traveller.move_to(when)
            if action is not None:
                action()
                continue
            counts = sweep_run(as_of=timezone.now())
            busy = {rule: {k: v for k, v in c.items() if v} for rule, c in counts.items() if any(c.values())}
            if busy:
                seen[when] = busy

    case = first["case"]

    # Each sweep that did anything, and what it did. The first case's clock (address verification:
    # 10 working days from receipt, day 10) comes within 5 working days on day 5, when it moves
    # from the absent officer; the third case's next action (day 2) has passed on day 3.
    assert seen == {
        at(1, 10, 0): {"concern_ticked": {"climbed": 1}},
        at(3, 0, 15): {"next_action_overdue": {"raised": 1}},
        at(5, 0, 15): {"officer_absent": {"raised": 1, "moved": 1}, "review_falls_due": {"moved": 1}},
        at(8, 17, 0): {"next_action_overdue": {"climbed": 1}},
        at(10, 0, 15): {"contacts_unverified": {"raised": 1}},
        at(13, 17, 0): {"next_action_overdue": {"climbed": 1}},
        at(20, 0, 15): {"cme_enquiry": {"raised": 1}},
        at(25, 17, 0): {"cme_enquiry": {"climbed": 1}},
        at(26, 0, 15): {"review_overdue": {"raised": 1}},
    }

    # Every escalation, exactly once, with its whole log.
    def label(escalation: Escalation) -> str:
        name = {case.pk: "first", second_child.pk: "second", third_child.pk: "third"}[escalation.episode_id]
        return f"{name}:{escalation.rule}"

    log = [
        (event.at, label(event.escalation), event.kind, event.level)
        for event in EscalationEvent.objects.select_related("escalation").order_by("at", "id")
    ]
    assert log == [
        (at(0, 16, 55), "first:concern_ticked", "raised", 1),
        (at(1, 10, 0), "first:concern_ticked", "climbed", 2),
        (at(1, 11, 0), "first:concern_ticked", "acknowledged", 2),
        (at(1, 11, 0), "first:concern_ticked", "decided", 2),
        (at(1, 11, 0), "first:concern_ticked", "resolved", 2),
        (at(3, 0, 15), "third:next_action_overdue", "raised", 1),
        (at(5, 0, 15), "first:officer_absent", "raised", 1),
        (at(5, 0, 15), "first:officer_absent", "reassigned", 1),
        (at(8, 17, 0), "third:next_action_overdue", "climbed", 2),
        (at(10, 0, 15), "first:contacts_unverified", "raised", 1),
        (at(11, 9, 30), "first:contacts_unverified", "acknowledged", 1),
        (at(13, 17, 0), "third:next_action_overdue", "climbed", 3),
        (at(20, 0, 15), "first:cme_enquiry", "raised", 1),
        (at(25, 17, 0), "first:cme_enquiry", "climbed", 2),
        (at(26, 0, 15), "second:review_overdue", "raised", 1),
    ]

    owners = {
        label(e): (e.level, e.owner_role, e.owner_user_id, e.resolved_at is None)
        for e in Escalation.objects.order_by("id")
    }
    assert owners == {
        "first:concern_ticked": (2, Role.CSPA_MANAGER, None, False),
        "first:officer_absent": (1, Role.EHE_MANAGER, None, False),  # notify-only: resolved as written
        "first:contacts_unverified": (1, Role.EHE_MANAGER, None, True),
        "first:cme_enquiry": (2, Role.HEAD_OF_SERVICE, None, True),
        "second:review_overdue": (1, "", people["b"].pk, True),
        "third:next_action_overdue": (3, Role.HEAD_OF_SERVICE, None, True),
    }
    concern = Escalation.objects.get(episode=case, rule="concern_ticked")
    assert (concern.due_at, concern.decision) == (at(2, 17, 0), "no_further_action")  # Monday 10:00 + 1 working day
    assert Escalation.objects.get(rule="contacts_unverified").due_at == at(20, 17, 0)
    assert Escalation.objects.get(rule="cme_enquiry").due_at == at(30, 17, 0)

    # Who was told, at each step.
    def told(rule: str, occasion: str, level: int) -> set[int | None]:
        escalation = Escalation.objects.get(rule=rule)
        prefix = f"escalation:{escalation.pk}:{occasion}:{level}:"
        return set(
            Message.objects.filter(idempotency_key__startswith=prefix, channel=Channel.EMAIL).values_list(
                "recipient_user_id", flat=True
            )
        )

    # A role's escalation is on its holders' "Escalations for you" (and in the digest), never
    # pushed case by case; the front door's inbox hears of a concern; a safeguarding climb and a
    # named owner are pushed (DESIGN section 5, "Who is told").
    concern_id = Escalation.objects.get(rule="concern_ticked").pk
    assert Message.objects.filter(idempotency_key=f"escalation:{concern_id}:raised:front_door").count() == 1
    assert told("concern_ticked", "raised", 1) == set()
    assert told("concern_ticked", "climbed", 2) == {people["cspa_manager"].pk}
    assert told("officer_absent", "raised", 1) == set()
    assert told("contacts_unverified", "raised", 1) == set()
    assert told("cme_enquiry", "raised", 1) == set()
    assert told("cme_enquiry", "climbed", 2) == set()
    assert told("review_overdue", "raised", 1) == {people["b"].pk}
    assert told("next_action_overdue", "raised", 1) == {people["d"].pk}
    assert told("next_action_overdue", "climbed", 2) == set()  # a role now owns it: listed, not pushed
    assert told("next_action_overdue", "climbed", 3) == set()

    # Where the cases ended up: the first with officer B (A came back on day 8; nothing moved back).
    case = Episode.objects.get(pk=case.pk)
    assert (case.state, case.assigned_officer_id) == (State.ADDRESS_VERIFICATION, people["b"].pk)
    second = Episode.objects.get(pk=second_child.pk)
    assert second.state == State.REVIEW_DUE
    moved = TransitionLog.objects.filter(episode=second, transition="review_falls_due").get()
    assert moved.at == at(5, 0, 15)

    # The clocks each event set, never written by hand: the first case is due when its contacts
    # must be verified (10 working days from receipt); the second when its review is.
    assert case.next_action_due == day(10)
    assert second.next_action_due == day(25)
