"""Quality audit: the sample's size, spread over officers and reproducibility; scoring; actions."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from ehe_register.models import LocalAuthority
from ehe_register.roles import Role
from tests.factories import make_episode, make_user
from workflows.models import AuditAction, AuditCase, AuditItem, AuditResult
from workflows.services.audit import (
    AuditError,
    FindingInput,
    audit_action_add,
    audit_actions_overdue,
    audit_case_record,
    audit_eligible_cases,
    audit_results,
    audit_sample_draw,
    audit_sample_select,
    audit_score,
)
from workflows.states import State

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
