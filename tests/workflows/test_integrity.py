"""The integrity check: for each invariant, a case that breaks it and the nearest that does not;
the command, the daily email to the head of service and the beat schedule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django_celery_beat.models import PeriodicTask

from ehe_register.models import Absence, AbsenceKind, LocalAuthority, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON
from notifications.models import Message
from tests.factories import make_audit_action, make_episode, make_user
from workflows.integrity import Invariant, integrity_check, integrity_report_send
from workflows.models import Episode, Escalation
from workflows.states import State
from workflows.tasks import integrity_check as integrity_task

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 11, 7, 0, tzinfo=LONDON)  # a Wednesday
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def sound(state: str, la: LocalAuthority, **fields: Any) -> Episode:
    """A case that breaks nothing: a next action in the future, its clocks running."""
    return make_episode(state, la=la, **{"next_action_due": TODAY + timedelta(days=10), **fields})


def escalation(episode: Episode, rule: str = "contacts_stale", **fields: Any) -> Escalation:
    values: dict[str, Any] = {
        "level": 1,
        "owner_role": Role.EHE_MANAGER.value,
        "raised_at": NOW - timedelta(days=1),
        "due_at": NOW + timedelta(days=1),
        **fields,
    }
    la_id = episode.local_authority_id
    return Escalation.objects.create(episode=episode, local_authority_id=la_id, rule=rule, **values)


def found(invariant: Invariant, la_code: str | None = None) -> dict[str, str]:
    report = integrity_check(as_of=NOW, la_code=la_code)
    return {p.reference: p.detail for p in report.problems.get(invariant, [])}


@pytest.fixture
def staffed(la: LocalAuthority) -> dict[str, User]:
    """Someone at work in every role an escalation can be owned by."""
    return {
        role.value: make_user(role, la)
        for role in (Role.EHE_OFFICER, Role.EHE_MANAGER, Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER, Role.HEAD_OF_SERVICE)
    }


def test_sound_cases_break_nothing(la: LocalAuthority, staffed: dict[str, User]) -> None:
    for state in (State.ADDRESS_VERIFICATION, State.EDUCATION_ENQUIRY, State.MONITORING, State.S437_NOTICE):
        sound(state, la)
    escalation(sound(State.MONITORING, la))
    make_episode(State.CLOSED, la=la)

    report = integrity_check(as_of=NOW)

    assert report.total == 0
    assert report.problems == {}


# ----------------------------------------------------------------------------------------------
# A clock run out with no open escalation


def test_a_next_action_past_its_date_with_no_open_escalation(la: LocalAuthority, staffed: dict[str, User]) -> None:
    late = sound(State.S437_NOTICE, la, next_action_due=TODAY - timedelta(days=1))
    due_today = sound(State.S437_NOTICE, la, next_action_due=TODAY)

    problems = found(Invariant.CLOCK_RUN_OUT)

    assert problems == {late.reference: "Next action date passed"}
    assert due_today.reference not in problems


def test_any_open_escalation_covers_a_clock_but_a_notify_only_or_resolved_one_does_not(
    la: LocalAuthority, staffed: dict[str, User]
) -> None:
    past = TODAY - timedelta(days=1)
    covered = sound(State.S437_NOTICE, la, next_action_due=past)
    escalation(covered, "contacts_stale")  # another rule's escalation: cover all the same
    notified_only = sound(State.S437_NOTICE, la, next_action_due=past)
    escalation(notified_only, "officer_absent", resolved_at=None)
    resolved = sound(State.S437_NOTICE, la, next_action_due=past)
    escalation(resolved, "next_action_overdue", resolved_at=NOW - timedelta(hours=1))

    problems = found(Invariant.CLOCK_RUN_OUT)

    assert set(problems) == {notified_only.reference, resolved.reference}


def test_a_review_date_passed_with_no_escalation_counts_from_the_next_working_day(
    la: LocalAuthority, staffed: dict[str, User]
) -> None:
    passed = sound(State.REVIEW_DUE, la, review_due_on=TODAY - timedelta(days=1))
    today = sound(State.REVIEW_DUE, la, review_due_on=TODAY)

    problems = found(Invariant.CLOCK_RUN_OUT)

    assert problems == {passed.reference: "Review date passed"}
    assert today.reference not in problems


def test_unverified_contacts_and_no_first_contact_are_clocks_too(la: LocalAuthority, staffed: dict[str, User]) -> None:
    # 10 working days after Wednesday 25 February is today; after the 26th, tomorrow.
    unverified = sound(State.ADDRESS_VERIFICATION, la, received_on=TODAY - timedelta(days=14), first_contact_at=NOW)
    not_yet = sound(State.ADDRESS_VERIFICATION, la, received_on=TODAY - timedelta(days=13), first_contact_at=NOW)
    no_contact = sound(State.EDUCATION_ENQUIRY, la, received_on=TODAY - timedelta(days=15))
    contact_in_time = sound(State.EDUCATION_ENQUIRY, la, received_on=TODAY - timedelta(days=14))

    problems = found(Invariant.CLOCK_RUN_OUT)

    assert problems == {
        unverified.reference: "Contact details not verified in time",
        no_contact.reference: "Enquiry overdue (first contact or next step)",
    }
    assert not_yet.reference not in problems
    assert contact_in_time.reference not in problems


# ----------------------------------------------------------------------------------------------
# An open escalation whose owner cannot act


def test_an_escalation_owned_by_an_absent_inactive_or_missing_user(
    la: LocalAuthority, other_la: LocalAuthority, staffed: dict[str, User]
) -> None:
    manager = staffed[Role.EHE_MANAGER.value]
    absent = make_user(Role.EHE_OFFICER, la)
    Absence.objects.create(
        officer=absent, starts_on=TODAY, kind=AbsenceKind.UNEXPECTED, recorded_by=manager, recorded_at=NOW
    )
    back = make_user(Role.EHE_OFFICER, la)
    Absence.objects.create(
        officer=back,
        starts_on=TODAY - timedelta(days=3),
        ends_on=TODAY - timedelta(days=1),
        kind=AbsenceKind.PLANNED,
        recorded_by=manager,
        recorded_at=NOW,
    )
    inactive = make_user(Role.EHE_OFFICER, la, is_active=False)
    moved_away = make_user(Role.EHE_OFFICER, other_la)

    def owned_by(user: User | None, role: str = "") -> Episode:
        episode = sound(State.MONITORING, la)
        escalation(episode, "review_overdue", owner_user=user, owner_role=role)
        return episode

    by_absent, by_back, by_inactive = owned_by(absent), owned_by(back), owned_by(inactive)
    by_elsewhere, by_nobody = owned_by(moved_away), owned_by(None)

    problems = found(Invariant.OWNER_CANNOT_ACT)

    assert problems == {
        by_absent.reference: "The review date has passed (level 1): its owner is absent today",
        by_inactive.reference: "The review date has passed (level 1): its owner's account is switched off",
        by_elsewhere.reference: "The review date has passed (level 1): its owner works for another local authority",
        by_nobody.reference: "The review date has passed (level 1): it has no owner",
    }
    assert by_back.reference not in problems


def test_an_escalation_owned_by_a_role_nobody_at_work_holds(la: LocalAuthority, other_la: LocalAuthority) -> None:
    manager = make_user(Role.EHE_MANAGER, la)
    make_user(Role.CSPA_MANAGER, other_la)  # the role is held, but in another LA
    away = make_user(Role.CSPA_DUTY_WORKER, la)
    Absence.objects.create(
        officer=away, starts_on=TODAY, kind=AbsenceKind.PLANNED, recorded_by=manager, recorded_at=NOW
    )
    make_user(Role.HEAD_OF_SERVICE, la, is_active=False)

    cspa_manager = sound(State.SAFEGUARDING_REVIEW, la)
    escalation(cspa_manager, "concern_ticked", level=2, owner_role=Role.CSPA_MANAGER.value)
    duty = sound(State.SAFEGUARDING_REVIEW, la)
    escalation(duty, "concern_ticked", owner_role=Role.CSPA_DUTY_WORKER.value)
    head = sound(State.AWAITING_CONSENT, la)
    escalation(head, "consent_required", level=2, owner_role=Role.HEAD_OF_SERVICE.value)
    held = sound(State.AWAITING_CONSENT, la)
    escalation(held, "consent_required", owner_role=Role.EHE_MANAGER.value)

    problems = found(Invariant.OWNER_CANNOT_ACT)

    assert set(problems) == {cspa_manager.reference, duty.reference, head.reference}
    assert problems[duty.reference].endswith("nobody at work today holds the role Front door duty worker")


# ----------------------------------------------------------------------------------------------
# No next action, safeguarding on a closed case, state and dates


def _without_a_clock(episode: Episode) -> Episode:
    """A case as a faulty import or a hand edit could leave it: every event sets a clock, so only
    a write outside the services can take it away (which is what the check is for)."""
    Episode.objects.filter(pk=episode.pk).update(next_action_due=None)
    return Episode.objects.get(pk=episode.pk)


def test_an_open_case_with_no_next_action_due(la: LocalAuthority, staffed: dict[str, User]) -> None:
    nothing_due = _without_a_clock(make_episode(State.MONITORING, la=la))
    sound(State.MONITORING, la)
    make_episode(State.CLOSED, la=la)

    assert found(Invariant.NO_NEXT_ACTION) == {nothing_due.reference: "No next action due"}


def test_a_safeguarding_escalation_open_on_a_closed_case(la: LocalAuthority, staffed: dict[str, User]) -> None:
    closed = make_episode(State.CLOSED, la=la)
    escalation(closed, "social_care_known", owner_role=Role.CSPA_DUTY_WORKER.value)
    decided = make_episode(State.CLOSED, la=la)
    escalation(decided, "social_care_known", resolved_at=NOW - timedelta(days=2))
    still_open_case = sound(State.SAFEGUARDING_REVIEW, la)
    escalation(still_open_case, "concern_ticked", owner_role=Role.CSPA_DUTY_WORKER.value)

    problems = found(Invariant.SAFEGUARDING_ON_CLOSED)

    assert set(problems) == {closed.reference}


@pytest.mark.parametrize(
    ("state", "broken", "mended", "detail"),
    [
        (State.MONITORING, {"review_due_on": None}, {}, "In monitoring or review with no review date"),
        (State.REVIEW_DUE, {"review_due_on": None}, {}, "In monitoring or review with no review date"),
        (State.S437_NOTICE, {"s437_served_on": None}, {}, "A section 437 notice with no date served"),
        (
            State.ATTENDANCE_ORDER,
            {"attendance_order_served_on": None},
            {},
            "A school attendance order with no date served",
        ),
        (State.CLOSED, {"closed_at": None}, {}, "Closed with no closing time"),
        (State.CLOSED, {"closure_reason": ""}, {}, "Closed with no reason"),
        (State.EDUCATION_ENQUIRY, {"closed_at": NOW}, {"closed_at": None}, "Open but has a closing time"),
    ],
)
def test_a_state_and_dates_that_disagree(
    la: LocalAuthority,
    staffed: dict[str, User],
    state: str,
    broken: dict[str, Any],
    mended: dict[str, Any],
    detail: str,
) -> None:
    bad = sound(state, la, **broken)
    good = sound(state, la, **mended)

    problems = found(Invariant.STATE_DATES_DISAGREE)

    assert problems == {bad.reference: detail}
    assert good.reference not in problems


def test_the_check_can_be_limited_to_one_la(
    la: LocalAuthority, other_la: LocalAuthority, staffed: dict[str, User]
) -> None:
    mine = _without_a_clock(make_episode(State.MONITORING, la=la))
    theirs = _without_a_clock(make_episode(State.MONITORING, la=other_la))

    assert set(found(Invariant.NO_NEXT_ACTION)) == {mine.reference, theirs.reference}
    assert set(found(Invariant.NO_NEXT_ACTION, la_code=la.dfe_code)) == {mine.reference}


# ----------------------------------------------------------------------------------------------
# The command, the email, the beat


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("check_integrity", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_each_problem_and_the_total(
    la: LocalAuthority, other_la: LocalAuthority, staffed: dict[str, User]
) -> None:
    nothing_due = _without_a_clock(make_episode(State.MONITORING, la=la))
    late = sound(State.S437_NOTICE, la, next_action_due=TODAY - timedelta(days=2))
    elsewhere = _without_a_clock(make_episode(State.MONITORING, la=other_la))

    output = run_command()
    one_la = run_command("--la", la.dfe_code)

    assert f"  {nothing_due.reference}: No next action due" in output
    assert f"  {late.reference}: Next action date passed" in output
    assert elsewhere.reference in output
    assert output.rstrip().endswith("3 problems")
    assert elsewhere.reference not in one_la
    assert one_la.rstrip().endswith("2 problems")


def test_the_command_says_0_problems_when_there_are_none(la: LocalAuthority, staffed: dict[str, User]) -> None:
    sound(State.MONITORING, la)

    output = run_command("--la", la.dfe_code)

    assert output.rstrip().endswith("0 problems")
    assert "[clock_run_out]: 0" in output


def test_the_head_of_service_is_emailed_case_references_once_a_day(
    la: LocalAuthority, other_la: LocalAuthority, staffed: dict[str, User], frozen: Any
) -> None:
    head = staffed[Role.HEAD_OF_SERVICE.value]
    nothing_due = _without_a_clock(make_episode(State.MONITORING, la=la))
    child_name = nothing_due.child.legal_last_name
    make_user(Role.HEAD_OF_SERVICE, other_la)  # their LA is sound: they hear nothing
    sound(State.MONITORING, other_la)

    assert integrity_task() == 1
    assert integrity_task() == 1  # the same day again: the same message

    [message] = Message.objects.filter(template="emails/integrity")
    assert message.recipient_user_id == head.pk
    assert message.idempotency_key == f"integrity:{la.dfe_code}:{TODAY.isoformat()}:{head.pk}"
    assert message.payload["total"] == 1
    assert message.payload["groups"] == [
        {
            "label": Invariant.NO_NEXT_ACTION.label,
            "count": 1,
            "more": 0,
            "problems": [f"{nothing_due.reference}: No next action due"],
        }
    ]
    assert child_name not in str(message.payload)

    frozen.shift(timedelta(days=1))
    assert integrity_task() == 1
    assert Message.objects.filter(template="emails/integrity").count() == 2


def test_the_email_lists_the_first_problems_of_each_kind_and_says_how_many_more(
    la: LocalAuthority, staffed: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    from notifications.delivery import message_render
    from workflows import integrity

    monkeypatch.setattr(integrity, "EMAILED", 2)
    cases = [_without_a_clock(sound(State.MONITORING, la)) for _ in range(3)]

    with transaction.atomic():
        assert integrity_report_send(as_of=NOW) == 1
    [message] = Message.objects.filter(template="emails/integrity")
    [group] = message.payload["groups"]
    assert (group["count"], group["more"]) == (3, 1)
    assert group["problems"] == [f"{case.reference}: No next action due" for case in cases[:2]]
    email = message_render(message)
    assert f"{Invariant.NO_NEXT_ACTION.label} (3):" in email.body
    assert "And 1 more: `manage.py check_integrity` lists them all." in email.body
    assert cases[2].reference not in email.body


def test_nobody_is_emailed_when_nothing_is_wrong(la: LocalAuthority, staffed: dict[str, User]) -> None:
    sound(State.MONITORING, la)

    with transaction.atomic():
        assert integrity_report_send(as_of=NOW) == 0
    assert not Message.objects.filter(template="emails/integrity").exists()


def test_the_check_runs_every_morning_from_the_beat_schedule() -> None:
    # The migration wrote the row; a transactional test earlier in the run may have flushed it, so
    # run the migration's own function again (it is written to be safe to run twice).
    import importlib

    from django.apps import apps

    importlib.import_module("workflows.migrations.0003_integrity_schedule").schedule(apps, None)
    task = PeriodicTask.objects.get(name="EHE integrity check")

    assert task.task == "workflows.integrity_check"
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("7", "0", "Europe/London")


def test_as_of_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        integrity_check(as_of=datetime(2026, 3, 11, 7, 0))


def test_a_listed_check_lists_the_first_problems_and_counts_them_all(
    la: LocalAuthority, staffed: dict[str, User]
) -> None:
    """The dashboard lists the first 50 of each invariant: with ``listed`` the check lists the
    first problems in the same order as the whole check and counts every one; a case late on its
    own clock and on an audit action is one problem, counted once."""
    past = TODAY - timedelta(days=1)
    late = [sound(State.S437_NOTICE, la, next_action_due=past) for _ in range(4)]
    for case in late[1:3]:  # late on an audit action too
        make_audit_action(case, owner=staffed[Role.EHE_OFFICER.value], due_on=TODAY - timedelta(days=7))
    audit_only = sound(State.MONITORING, la)
    make_audit_action(audit_only, owner=staffed[Role.EHE_OFFICER.value], due_on=TODAY - timedelta(days=7))
    for _ in range(3):
        _without_a_clock(sound(State.MONITORING, la))
    whole = integrity_check(as_of=NOW)
    assert whole.count(Invariant.CLOCK_RUN_OUT) == 5
    assert whole.count(Invariant.NO_NEXT_ACTION) == 3

    for listed in range(7):
        report = integrity_check(as_of=NOW, listed=listed)
        assert report.total == whole.total
        for invariant, problems, count, more in report.listed_groups:
            everything = whole.problems.get(invariant, [])
            assert problems == everything[:listed]
            assert count == len(everything)
            assert more == max(0, len(everything) - listed)


def test_the_dashboard_lists_50_problems_of_an_invariant_and_says_how_many_more(
    client: Any, la: LocalAuthority, staffed: dict[str, User]
) -> None:
    cases = [_without_a_clock(sound(State.MONITORING, la)) for _ in range(53)]
    client.force_login(staffed[Role.EHE_MANAGER.value])

    html = client.get("/").content.decode()

    assert "An open case has no next action due (53)" in html
    assert html.count("No next action due</li>") == 50
    assert cases[49].reference in html
    assert cases[50].reference not in html
    assert "And 3 more: run" in html
