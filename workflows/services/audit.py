"""Quality audit: draw a reproducible monthly sample of each officer's cases, record each case's
audit against the checklist, and track the actions it finds (DESIGN sections 1, 2 and 6).

A sample is reproducible: the seed is stored on it, and :func:`audit_sample_select` picks the
same cases for the same seed from the same casework (each officer's eligible case ids, sorted,
shuffled by ``random.Random`` seeded with the sample's seed and the officer's id). The pick is
made once, when the sample is drawn, and stored; the seed lets anyone check it later.

Reads for the pages (samples, results by month, overdue actions) are here too and take the user,
so that a manager only ever sees their own LA's audit.
"""

from __future__ import annotations

import calendar
import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, F, Q, QuerySet
from django.utils import timezone

from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role
from workflows.models import AuditAction, AuditCase, AuditFinding, AuditItem, AuditResult, AuditSample, Episode
from workflows.sweeps import episode_rules_evaluate

AUDIT_READERS = frozenset({Role.EHE_MANAGER, Role.HEAD_OF_SERVICE, Role.AUDITOR})


class AuditError(Exception):
    """An audit step that cannot be done, in words a manager can act on."""


def month_start(day: date) -> date:
    return day.replace(day=1)


def _month_bounds(month: date) -> tuple[datetime, datetime]:
    first = month_start(month)
    last_day = calendar.monthrange(first.year, first.month)[1]
    after = first + timedelta(days=last_day)
    tz = timezone.get_current_timezone()
    return datetime.combine(first, time.min, tzinfo=tz), datetime.combine(after, time.min, tzinfo=tz)


def audit_officers(local_authority_id: int) -> QuerySet[User]:
    """The LA's active EHE officers, whose cases are sampled."""
    return User.objects.filter(
        local_authority_id=local_authority_id, groups__name=Role.EHE_OFFICER.value, is_active=True
    ).order_by("pk")


def audit_eligible_cases(local_authority_id: int, month: date) -> dict[int, list[int]]:
    """Each officer's cases that were open at some time in ``month``: episode ids by officer id, sorted.

    A case counts for the officer it is assigned to; a case opened after the month or closed
    before it does not count.
    """
    starts, ends = _month_bounds(month)
    officers = list(audit_officers(local_authority_id).values_list("pk", flat=True))
    rows = (
        Episode.objects.filter(local_authority_id=local_authority_id, assigned_officer_id__in=officers)
        .filter(opened_at__lt=ends)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=starts))
        .values_list("assigned_officer_id", "pk")
    )
    by_officer: dict[int, list[int]] = {officer: [] for officer in officers}
    for officer_id, episode_id in rows:
        by_officer[officer_id].append(episode_id)
    return {officer: sorted(ids) for officer, ids in by_officer.items()}


def audit_sample_select(eligible: Mapping[int, list[int]], *, seed: int, size: int) -> list[tuple[int, int]]:
    """Pick up to ``size`` cases per officer: (officer id, episode id) pairs, the same for the same seed.

    Each officer's draw is seeded with the sample's seed and the officer's id, so one officer's
    caseload changing does not change who else's cases are picked.
    """
    picked: list[tuple[int, int]] = []
    for officer_id in sorted(eligible):
        ids = sorted(eligible[officer_id])
        rng = random.Random(f"{seed}:{officer_id}")  # noqa: S311 (reproducible on purpose, not secret)
        picked.extend((officer_id, episode_id) for episode_id in sorted(rng.sample(ids, min(size, len(ids)))))
    return picked


def audit_sample_draw(
    *, actor: User, month: date, seed: int | None = None, as_of: datetime | None = None
) -> AuditSample:
    """Draw the actor's LA's sample for ``month`` (an EHE manager only; one sample per LA and month)."""
    if not actor.has_role(Role.EHE_MANAGER) or actor.local_authority_id is None:
        raise AuditError("Only an EHE manager can draw an audit sample")
    as_of = as_of or timezone.now()
    month = month_start(month)
    if month > month_start(timezone.localdate(as_of)):
        raise AuditError("You cannot sample a month that has not started")
    la = LocalAuthority.objects.get(pk=actor.local_authority_id)
    seed = secrets.randbelow(2**62) if seed is None else seed
    picked = audit_sample_select(audit_eligible_cases(la.pk, month), seed=seed, size=la.audit_sample_size)
    try:
        with transaction.atomic():
            sample = AuditSample.objects.create(
                local_authority=la,
                month=month,
                seed=seed,
                size_per_officer=la.audit_sample_size,
                drawn_by=actor,
                drawn_at=as_of,
            )
            AuditCase.objects.bulk_create(
                AuditCase(sample=sample, officer_id=officer_id, episode_id=episode_id)
                for officer_id, episode_id in picked
            )
    except IntegrityError as error:
        raise AuditError(f"A sample for {month:%B %Y} has already been drawn") from error
    return sample


@dataclass(frozen=True)
class FindingInput:
    result: str
    note: str = ""


def audit_score(results: Mapping[str, str]) -> int | None:
    """Per cent of the applicable items met, rounded; None when no item applies."""
    met = sum(1 for r in results.values() if r == AuditResult.MET)
    applicable = sum(1 for r in results.values() if r in (AuditResult.MET, AuditResult.NOT_MET))
    if applicable == 0:
        return None
    return round(100 * met / applicable)


def audit_case_record(
    *,
    audit_case: AuditCase,
    actor: User,
    findings: Mapping[str, FindingInput],
    summary: str = "",
    as_of: datetime | None = None,
) -> AuditCase:
    """Record (or correct) the audit of one sampled case: a result for every checklist item, and the score."""
    _require_manager_of(actor, audit_case.sample.local_authority_id)
    missing = [item.label for item in AuditItem if item.value not in findings]
    if missing:
        raise AuditError(f"Give a result for: {', '.join(missing)}")
    unknown = [r.result for r in findings.values() if r.result not in AuditResult.values]
    if unknown:
        raise AuditError("Choose met, not met or not applicable for each item")
    as_of = as_of or timezone.now()
    with transaction.atomic():
        locked = AuditCase.objects.select_for_update().get(pk=audit_case.pk)
        AuditFinding.objects.filter(audit_case=locked).delete()
        AuditFinding.objects.bulk_create(
            AuditFinding(audit_case=locked, item=item, result=findings[item].result, note=findings[item].note)
            for item in AuditItem.values
        )
        locked.score = audit_score({item: findings[item].result for item in AuditItem.values})
        locked.summary = summary
        locked.audited_by = actor
        locked.audited_at = as_of
        locked.save(update_fields=["score", "summary", "audited_by", "audited_at"])
    return locked


def audit_action_add(
    *,
    audit_case: AuditCase,
    actor: User,
    description: str,
    owner: User,
    due_on: date,
    as_of: datetime | None = None,
) -> AuditAction:
    """Record an action found by an audit, owned by a named member of the LA's staff, due on a date."""
    la_id = audit_case.sample.local_authority_id
    _require_manager_of(actor, la_id)
    if owner.local_authority_id != la_id or not owner.is_active:
        raise AuditError("The owner must be an active member of your local authority's staff")
    as_of = as_of or timezone.now()
    if due_on < timezone.localdate(as_of):
        raise AuditError("The due date must be today or later")
    return AuditAction.objects.create(
        audit_case=audit_case,
        local_authority_id=la_id,
        description=description,
        owner=owner,
        due_on=due_on,
        created_by=actor,
        created_at=as_of,
    )


def audit_action_complete(*, action: AuditAction, actor: User, as_of: datetime | None = None) -> AuditAction:
    """Mark an action done: its owner or an EHE manager of the LA. Completing twice changes nothing.

    An overdue action escalates (the ``audit_action_overdue`` rule): the rules are evaluated for
    the case at once, so the escalation is resolved when its last overdue action is done."""
    if not (
        actor.pk == action.owner_id
        or (actor.has_role(Role.EHE_MANAGER) and actor.local_authority_id == action.local_authority_id)
    ):
        raise AuditError("Only the action's owner or an EHE manager can mark it done")
    as_of = as_of or timezone.now()
    with transaction.atomic():
        done = AuditAction.objects.filter(pk=action.pk, completed_at__isnull=True).update(
            completed_at=as_of, completed_by=actor
        )
        if done:
            episode_id = AuditCase.objects.filter(pk=action.audit_case_id).values_list("episode_id", flat=True).get()
            episode_rules_evaluate(episode_id=episode_id, as_of=as_of)
    return AuditAction.objects.get(pk=action.pk)


def _require_manager_of(actor: User, la_id: int) -> None:
    if not actor.has_role(Role.EHE_MANAGER) or actor.local_authority_id != la_id:
        raise AuditError("Only an EHE manager of this local authority can do that")


# Reads.


def audit_samples_for(user: Any) -> QuerySet[AuditSample]:
    if not (user.is_authenticated and user.local_authority_id and user.roles & AUDIT_READERS):
        return AuditSample.objects.none()
    return AuditSample.objects.filter(local_authority_id=user.local_authority_id).annotate(
        case_count=Count("cases", distinct=True),
        audited_count=Count("cases", filter=Q(cases__audited_at__isnull=False), distinct=True),
        average_score=Avg("cases__score"),
    )


def audit_cases_for(user: Any) -> QuerySet[AuditCase]:
    if not (user.is_authenticated and user.local_authority_id and user.roles & AUDIT_READERS):
        return AuditCase.objects.none()
    return AuditCase.objects.filter(sample__local_authority_id=user.local_authority_id).select_related(
        "sample", "episode__child", "episode__local_authority", "officer", "audited_by"
    )


def audit_actions_for(user: Any) -> QuerySet[AuditAction]:
    if not (user.is_authenticated and user.local_authority_id and user.roles & AUDIT_READERS):
        return AuditAction.objects.none()
    return AuditAction.objects.filter(local_authority_id=user.local_authority_id).select_related(
        "owner", "audit_case__episode__local_authority"
    )


def audit_actions_overdue(user: Any, today: date) -> QuerySet[AuditAction]:
    """Open actions past their due date: the audit's own clock (shown and counted on its pages)."""
    return audit_actions_for(user).filter(completed_at__isnull=True, due_on__lt=today)


@dataclass(frozen=True)
class MonthResult:
    month: date
    audited: int
    average_score: float | None
    pass_rates: dict[str, float | None]  # per checklist item: per cent met of those applicable


def audit_results(user: Any) -> list[MonthResult]:
    """Per sampled month, newest first: cases audited, the average score and each item's pass rate.

    Two aggregate queries, however many months or cases.
    """
    cases = audit_cases_for(user).filter(audited_at__isnull=False)
    months = {
        row["month"]: row
        for row in cases.values(month=F("sample__month")).annotate(audited=Count("pk"), average=Avg("score"))
    }
    rates: dict[date, dict[str, float | None]] = {}
    findings = AuditFinding.objects.filter(audit_case__in=cases.values("pk"))
    for row in findings.values("item", month=F("audit_case__sample__month")).annotate(
        met=Count("pk", filter=Q(result=AuditResult.MET)),
        applicable=Count("pk", filter=~Q(result=AuditResult.NOT_APPLICABLE)),
    ):
        rate = round(100 * row["met"] / row["applicable"], 1) if row["applicable"] else None
        rates.setdefault(_as_date(row["month"]), {})[row["item"]] = rate
    results = []
    for month, row in months.items():
        key = _as_date(month)
        average = row["average"]
        results.append(
            MonthResult(
                month=key,
                audited=row["audited"],
                average_score=round(float(average), 1) if average is not None else None,
                pass_rates={item: rates.get(key, {}).get(item) for item in AuditItem.values},
            )
        )
    return sorted(results, key=lambda r: r.month, reverse=True)


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value
