"""Quality audit: the sample's size, spread over officers and reproducibility; scoring; actions."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from bench.reference_sweep import reference_sweep_run
from ehe_register.models import LocalAuthority
from ehe_register.roles import Role
from ehe_register.working_days import LONDON
from notifications.models import Channel, Message
from tests.factories import make_audit_action, make_episode, make_user
from workflows.integrity import Invariant, integrity_check
from workflows.models import AuditAction, AuditCase, AuditItem, AuditResult, Escalation
from workflows.selectors import escalations_for
from workflows.services.audit import (
    AuditError,
    FindingInput,
    audit_action_add,
    audit_action_complete,
    audit_actions_overdue,
    audit_case_record,
    audit_eligible_cases,
    audit_results,
    audit_sample_draw,
    audit_sample_select,
    audit_score,
)
from workflows.services.escalations import escalation_raise
from workflows.states import State
from workflows.sweeps import SWEEPS, sweep_run

pytestmark = pytest.mark.django_db
MONTH = date(2026, 3, 1)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=timezone.get_current_timezone())


@pytest.fixture
def team(la: LocalAuthority) -> dict[str, Any]:
    """Three officers with 5, 1 and 0 cases open in March 2026, a case closed before March, one
    opened after it, and an officer of another LA."""
    officers = [make_user(Role.EHE_OFFICER, la, first_name=n) for n in ("Ana", "Ben", "Cai")]
    cases: dict[int, list[int]] = {o.pk: [] for o in officers}
    for officer, count in zip(officers, (5, 1, 0), strict=True):
        for _ in range(count):
            e = make_episode(State.MONITORING, la=la, assigned_officer=officer, opened_at=_at(date(2026, 1, 5)))
            cases[officer.pk].append(e.pk)
    make_episode(
        State.CLOSED,
        la=la,
        assigned_officer=officers[0],
        opened_at=_at(date(2026, 1, 5)),
        closed_at=_at(date(2026, 2, 27)),
    )
    make_episode(State.MONITORING, la=la, assigned_officer=officers[1], opened_at=_at(date(2026, 4, 2)))
    la.audit_sample_size = 2
    la.save()
    return {"officers": officers, "cases": cases, "manager": make_user(Role.EHE_MANAGER, la)}


def test_eligible_cases_are_those_open_in_the_month_by_officer(team: dict[str, Any], la: LocalAuthority) -> None:
    eligible = audit_eligible_cases(la.pk, MONTH)
    assert eligible == {pk: sorted(ids) for pk, ids in team["cases"].items()}


def test_sample_takes_the_setting_per_officer_and_all_of_a_smaller_caseload(team: dict[str, Any]) -> None:
    with_time = _at(date(2026, 4, 10))
    sample = audit_sample_draw(actor=team["manager"], month=MONTH, seed=12345, as_of=with_time)
    picked = list(AuditCase.objects.filter(sample=sample).values_list("officer_id", "episode_id"))
    ana, ben, cai = team["officers"]
    by_officer = {o.pk: [e for oid, e in picked if oid == o.pk] for o in team["officers"]}
    assert len(by_officer[ana.pk]) == 2
    assert set(by_officer[ana.pk]) <= set(team["cases"][ana.pk])
    assert by_officer[ben.pk] == team["cases"][ben.pk]
    assert by_officer[cai.pk] == []
    assert sample.seed == 12345
    assert sample.size_per_officer == 2


def test_the_same_seed_picks_the_same_cases_and_seeds_differ(team: dict[str, Any], la: LocalAuthority) -> None:
    eligible = audit_eligible_cases(la.pk, MONTH)
    first = audit_sample_select(eligible, seed=99, size=2)
    assert audit_sample_select(eligible, seed=99, size=2) == first
    # Over many seeds the draw is not always the same pair (it is random, not the first two).
    pairs = {tuple(audit_sample_select(eligible, seed=s, size=2)) for s in range(30)}
    assert len(pairs) > 1
    sample = audit_sample_draw(actor=team["manager"], month=MONTH, seed=99, as_of=_at(date(2026, 4, 1)))
    stored = sorted(AuditCase.objects.filter(sample=sample).values_list("officer_id", "episode_id"))
    assert stored == sorted(first)


def test_one_sample_per_month_and_only_a_manager_draws(team: dict[str, Any]) -> None:
    audit_sample_draw(actor=team["manager"], month=MONTH, as_of=_at(date(2026, 4, 1)))
    with pytest.raises(AuditError, match="already been drawn"):
        audit_sample_draw(actor=team["manager"], month=MONTH, as_of=_at(date(2026, 4, 1)))
    with pytest.raises(AuditError, match="EHE manager"):
        audit_sample_draw(actor=team["officers"][0], month=date(2026, 2, 1), as_of=_at(date(2026, 4, 1)))
    with pytest.raises(AuditError, match="not started"):
        audit_sample_draw(actor=team["manager"], month=date(2026, 5, 1), as_of=_at(date(2026, 4, 1)))


@pytest.mark.parametrize(
    ("results", "score"),
    [
        ({"a": AuditResult.MET, "b": AuditResult.MET}, 100),
        ({"a": AuditResult.MET, "b": AuditResult.NOT_MET, "c": AuditResult.NOT_APPLICABLE}, 50),
        ({"a": AuditResult.MET, "b": AuditResult.NOT_MET, "c": AuditResult.NOT_MET}, 33),
        ({"a": AuditResult.NOT_APPLICABLE}, None),
    ],
)
def test_score_is_the_share_of_applicable_items_met(results: dict[str, str], score: int | None) -> None:
    assert audit_score(results) == score


def _findings(**overrides: str) -> dict[str, FindingInput]:
    return {item.value: FindingInput(overrides.get(item.value, AuditResult.MET)) for item in AuditItem}


def test_recording_an_audit_scores_it_and_results_show_by_month(team: dict[str, Any]) -> None:
    sample = audit_sample_draw(actor=team["manager"], month=MONTH, seed=1, as_of=_at(date(2026, 4, 1)))
    first, second, *_ = AuditCase.objects.filter(sample=sample).order_by("pk")
    audit_case_record(audit_case=first, actor=team["manager"], findings=_findings(review_on_time=AuditResult.NOT_MET))
    audit_case_record(
        audit_case=second,
        actor=team["manager"],
        findings=_findings(review_on_time=AuditResult.NOT_APPLICABLE, child_seen=AuditResult.NOT_MET),
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.score, second.score) == (83, 80)  # 5 of 6; 4 of 5
    [march] = audit_results(team["manager"])
    assert march.month == MONTH
    assert march.audited == 2
    assert march.average_score == 81.5
    assert march.pass_rates[AuditItem.REVIEW_ON_TIME] == 0.0  # one applicable, not met
    assert march.pass_rates[AuditItem.CHILD_SEEN] == 50.0
    assert march.pass_rates[AuditItem.CONTACTS_VERIFIED] == 100.0


def test_an_audit_needs_every_item(team: dict[str, Any]) -> None:
    sample = audit_sample_draw(actor=team["manager"], month=MONTH, seed=1, as_of=_at(date(2026, 4, 1)))
    audit_case = AuditCase.objects.filter(sample=sample).first()
    assert audit_case is not None
    findings = _findings()
    del findings[AuditItem.RECORDING_QUALITY]
    with pytest.raises(AuditError, match="Recording"):
        audit_case_record(audit_case=audit_case, actor=team["manager"], findings=findings)
    assert not audit_case.findings.exists()


def test_an_open_action_past_its_due_date_is_overdue(team: dict[str, Any]) -> None:
    sample = audit_sample_draw(actor=team["manager"], month=MONTH, seed=1)
    audit_case = AuditCase.objects.filter(sample=sample).first()
    assert audit_case is not None
    today = timezone.localdate()
    action = audit_action_add(
        audit_case=audit_case, actor=team["manager"], description="Visit", owner=team["officers"][0], due_on=today
    )
    assert list(audit_actions_overdue(team["manager"], today)) == []
    assert list(audit_actions_overdue(team["manager"], today + timedelta(days=1))) == [action]
    with pytest.raises(AuditError, match="today or later"):
        audit_action_add(
            audit_case=audit_case,
            actor=team["manager"],
            description="Late",
            owner=team["officers"][0],
            due_on=today - timedelta(days=1),
        )


def test_audit_pages_show_overdue_actions(client: Any, team: dict[str, Any]) -> None:
    sample = audit_sample_draw(actor=team["manager"], month=MONTH, seed=1)
    audit_case = AuditCase.objects.filter(sample=sample).first()
    assert audit_case is not None
    action = audit_action_add(
        audit_case=audit_case,
        actor=team["manager"],
        description="Check the address",
        owner=team["officers"][0],
        due_on=timezone.localdate(),
    )
    client.force_login(team["manager"])
    assert "None is overdue" in client.get("/audit/").content.decode()
    AuditAction.objects.filter(pk=action.pk).update(due_on=timezone.localdate() - timedelta(days=1))
    page = client.get("/audit/").content.decode()
    assert "1 audit action overdue" in page
    assert "Check the address" in page


# --- Overdue actions escalate like any clock (the audit_action_overdue rule) ------------------------

FRIDAY = date(2026, 11, 6)
SATURDAY_MORNING = datetime(2026, 11, 7, 10, 0, tzinfo=LONDON)
MONDAY_EARLY = datetime(2026, 11, 9, 0, 15, tzinfo=LONDON)


@pytest.fixture
def people(la: LocalAuthority) -> dict[str, Any]:
    return {
        "manager": make_user(Role.EHE_MANAGER, la),
        "officer": make_user(Role.EHE_OFFICER, la),
        "owner": make_user(Role.EHE_OFFICER, la),
        "later owner": make_user(Role.EHE_OFFICER, la),
    }


def _audit_escalations(episode: Any) -> list[Escalation]:
    return list(Escalation.objects.filter(episode=episode, rule="audit_action_overdue").order_by("pk"))


def _a_verified_case(la: LocalAuthority, officer: Any) -> Any:
    """A monitoring case whose own clocks are all in time, so only the audit's clock can fire."""
    verified = datetime(2026, 10, 1, 9, tzinfo=LONDON)
    return make_episode(
        State.MONITORING,
        la=la,
        assigned_officer=officer,
        review_due_on=date(2027, 9, 1),
        contacts_verified_at=verified,
        first_contact_at=verified,
        received_on=date(2026, 9, 20),
    )


def test_an_overdue_action_escalates_from_the_first_working_day_after_its_due_date(
    la: LocalAuthority, people: dict[str, Any]
) -> None:
    with time_machine.travel(datetime(2026, 11, 2, 9, tzinfo=LONDON), tick=False):
        case = _a_verified_case(la, people["officer"])
        make_audit_action(case, owner=people["owner"], due_on=FRIDAY, manager=people["manager"])
        make_audit_action(case, owner=people["later owner"], due_on=date(2026, 11, 20), manager=people["manager"])
        done = make_audit_action(case, owner=people["officer"], due_on=date(2026, 11, 3), manager=people["manager"])
        AuditAction.objects.filter(pk=done.pk).update(completed_at=datetime(2026, 11, 2, 9, tzinfo=LONDON))
        nearest = _a_verified_case(la, people["officer"])  # due on the Monday: not yet passed then
        make_audit_action(nearest, owner=people["owner"], due_on=date(2026, 11, 9), manager=people["manager"])

    assert sweep_run(as_of=SATURDAY_MORNING)["audit_action_overdue"]["raised"] == 0  # a weekend changes nothing
    Message.objects.all().delete()
    assert sweep_run(as_of=MONDAY_EARLY)["audit_action_overdue"]["raised"] == 1

    [escalation] = _audit_escalations(case)
    assert _audit_escalations(nearest) == []
    assert (escalation.level, escalation.owner_role, escalation.owner_user_id) == (1, Role.EHE_MANAGER.value, None)
    # The owner of the overdue action is told by name, on both channels; the owners of an action
    # not yet due, or of one already done, are not; the managers see it under "Escalations for you".
    told = set(Message.objects.values_list("recipient_user_id", "channel"))
    assert told == {(people["owner"].pk, Channel.IN_APP), (people["owner"].pk, Channel.EMAIL)}
    assert escalation in escalations_for(people["manager"])
    assert sweep_run(as_of=MONDAY_EARLY + timedelta(hours=1))["audit_action_overdue"]["raised"] == 0


def test_completing_the_last_overdue_action_resolves_the_escalation_at_once(
    la: LocalAuthority, people: dict[str, Any]
) -> None:
    with time_machine.travel(datetime(2026, 11, 2, 9, tzinfo=LONDON), tick=False):
        case = _a_verified_case(la, people["officer"])
        first = make_audit_action(case, owner=people["owner"], due_on=FRIDAY, manager=people["manager"])
        second = make_audit_action(case, owner=people["later owner"], due_on=FRIDAY, manager=people["manager"])
    sweep_run(as_of=MONDAY_EARLY)
    [escalation] = _audit_escalations(case)
    at = datetime(2026, 11, 9, 11, tzinfo=LONDON)

    audit_action_complete(action=first, actor=people["owner"], as_of=at)
    assert Escalation.objects.get(pk=escalation.pk).resolved_at is None  # another is still overdue
    audit_action_complete(action=second, actor=people["manager"], as_of=at + timedelta(minutes=5))

    resolved = Escalation.objects.get(pk=escalation.pk)
    assert resolved.resolved_at == at + timedelta(minutes=5)
    assert resolved.decision_note == f"Resolved automatically: {SWEEPS['audit_action_overdue'].cleared}"


def test_the_sweep_resolves_it_when_no_overdue_action_is_left_and_climbs_it_to_the_head_of_service(
    la: LocalAuthority, people: dict[str, Any]
) -> None:
    with time_machine.travel(datetime(2026, 11, 2, 9, tzinfo=LONDON), tick=False):
        case = _a_verified_case(la, people["officer"])
        action = make_audit_action(case, owner=people["owner"], due_on=FRIDAY, manager=people["manager"])
    sweep_run(as_of=MONDAY_EARLY)
    [escalation] = _audit_escalations(case)
    assert escalation.due_at is not None
    assert sweep_run(as_of=escalation.due_at)["audit_action_overdue"]["climbed"] == 1
    assert Escalation.objects.get(pk=escalation.pk).owner_role == Role.HEAD_OF_SERVICE.value

    AuditAction.objects.filter(pk=action.pk).update(due_on=date(2026, 12, 1))  # put back by the manager
    assert sweep_run(as_of=escalation.due_at + timedelta(hours=1))["audit_action_overdue"]["resolved"] == 1


def test_an_open_audit_escalation_does_not_stand_in_for_the_cases_own_clock(
    la: LocalAuthority, people: dict[str, Any]
) -> None:
    """The catch-all ``next_action_overdue`` fires where no other rule holds the case: an overdue
    audit action is about practice and holds nothing; the integrity check agrees."""
    with time_machine.travel(datetime(2026, 11, 2, 9, tzinfo=LONDON), tick=False):
        served = date(2026, 10, 1)
        verified = datetime(2026, 10, 2, 9, tzinfo=LONDON)
        case = make_episode(
            State.S437_NOTICE,
            la=la,
            assigned_officer=people["officer"],
            s437_served_on=served,
            contacts_verified_at=verified,
            first_contact_at=verified,
            received_on=date(2026, 9, 20),
        )
        make_audit_action(case, owner=people["owner"], due_on=date(2026, 10, 20), manager=people["manager"])
        escalation_raise(episode=case, rule_name="audit_action_overdue", as_of=datetime(2026, 11, 2, 9, tzinfo=LONDON))
        assert [p.episode_id for p in integrity_check(as_of=timezone.now()).problems[Invariant.CLOCK_RUN_OUT]] == [
            case.pk
        ]

    counts = sweep_run(as_of=MONDAY_EARLY)
    assert counts["next_action_overdue"]["raised"] == 1
    assert Invariant.CLOCK_RUN_OUT not in integrity_check(as_of=MONDAY_EARLY).problems


def test_the_integrity_check_lists_an_overdue_action_no_escalation_covers(
    la: LocalAuthority, people: dict[str, Any]
) -> None:
    with time_machine.travel(datetime(2026, 11, 2, 9, tzinfo=LONDON), tick=False):
        case = _a_verified_case(la, people["officer"])
        make_audit_action(case, owner=people["owner"], due_on=FRIDAY, manager=people["manager"])
        nearest = _a_verified_case(la, people["officer"])
        make_audit_action(nearest, owner=people["owner"], due_on=date(2026, 11, 9), manager=people["manager"])

    report = integrity_check(as_of=MONDAY_EARLY)
    [problem] = report.problems[Invariant.CLOCK_RUN_OUT]
    assert (problem.episode_id, problem.detail) == (case.pk, "A quality-audit action is overdue")
    sweep_run(as_of=MONDAY_EARLY)
    assert integrity_check(as_of=MONDAY_EARLY).total == 0


def test_the_reference_sweep_does_the_same_for_an_overdue_action(la: LocalAuthority, people: dict[str, Any]) -> None:
    """bench/reference_sweep.py mirrors the rule: after it, the product's sweep has nothing left to
    do for the rule, and the action's owner has the same messages."""
    with time_machine.travel(datetime(2026, 11, 2, 9, tzinfo=LONDON), tick=False):
        case = _a_verified_case(la, people["officer"])
        make_audit_action(case, owner=people["owner"], due_on=FRIDAY, manager=people["manager"])
    done = reference_sweep_run(as_of=MONDAY_EARLY)

    assert done["raised"] == 1
    [escalation] = _audit_escalations(case)
    assert (escalation.owner_role, escalation.owner_user_id) == (Role.EHE_MANAGER.value, None)
    assert set(Message.objects.values_list("recipient_user_id", flat=True)) == {people["owner"].pk}
    nothing = {"raised": 0, "resolved": 0, "climbed": 0, "moved": 0}
    assert sweep_run(as_of=MONDAY_EARLY)["audit_action_overdue"] == nothing
