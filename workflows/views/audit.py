"""Quality audit pages (``/audit/``): samples, auditing a sampled case, actions and results over time.

EHE managers draw samples, audit cases and record actions; heads of service and auditors read.
An action's owner (any member of the LA's staff) may mark it done. Everything is scoped to the
user's LA by the reads in ``workflows.services.audit``; another LA's sample or case is a 404.
Opening an audited case shows the child's name and casework, so it writes an AccessLog row.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ehe_register.accounts.guards import role_required
from ehe_register.models import AccessAction, User
from ehe_register.roles import LA_ROLES, Role
from ehe_register.services.access import access_log_record
from workflows.forms_audit import AuditActionForm, AuditCaseForm, SampleDrawForm
from workflows.models import AuditItem
from workflows.services.audit import (
    AUDIT_READERS,
    AuditError,
    audit_action_add,
    audit_action_complete,
    audit_actions_for,
    audit_actions_overdue,
    audit_case_record,
    audit_cases_for,
    audit_results,
    audit_sample_draw,
    audit_samples_for,
    month_start,
)

READERS = tuple(sorted(AUDIT_READERS))
MONTHS_OFFERED = 12


def _months_to_offer(user: Any, today: date) -> list[date]:
    drawn = set(audit_samples_for(user).values_list("month", flat=True))
    months, month = [], month_start(today)
    for _ in range(MONTHS_OFFERED):
        if month not in drawn:
            months.append(month)
        month = month_start(month - timedelta(days=1))
    return months


def _owners(user: Any) -> Any:
    return (
        User.objects.filter(
            local_authority_id=user.local_authority_id,
            is_active=True,
            groups__name__in=[Role.EHE_OFFICER.value, Role.EHE_MANAGER.value],
        )
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def _is_manager(user: Any) -> bool:
    return bool(user.has_role(Role.EHE_MANAGER))


def _render_index(request: HttpRequest, form: SampleDrawForm | None, status: int = 200) -> HttpResponse:
    user: Any = request.user
    today = timezone.localdate()
    overdue = list(audit_actions_overdue(user, today).select_related("audit_case__episode__child"))
    context = {
        "samples": list(audit_samples_for(user)),
        "form": form,
        "overdue_actions": overdue,
        "open_action_count": audit_actions_for(user).filter(completed_at__isnull=True).count(),
        "sample_size": user.local_authority.audit_sample_size,
        "today": today,
    }
    return render(request, "managers/audit/index.html", context, status=status)


@role_required(*READERS)
@require_GET
def audit_index(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = SampleDrawForm(months=_months_to_offer(user, timezone.localdate())) if _is_manager(user) else None
    return _render_index(request, form)


@role_required(Role.EHE_MANAGER)
@require_POST
def audit_draw(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = SampleDrawForm(request.POST, months=_months_to_offer(user, timezone.localdate()))
    if form.is_valid():
        try:
            sample = audit_sample_draw(actor=user, month=form.cleaned_data["month"])
        except AuditError as refused:
            form.add_error("month", str(refused))
        else:
            count = sample.cases.count()
            messages.success(request, f"Sample for {sample.month:%B %Y} drawn: {count} case{'s' if count != 1 else ''}")
            return redirect("audit:sample", pk=sample.pk)
    return _render_index(request, form, status=400)


@role_required(*READERS)
@require_GET
def audit_sample(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    sample = get_object_or_404(audit_samples_for(user), pk=pk)
    cases = list(
        audit_cases_for(user).filter(sample=sample).order_by("officer__first_name", "officer__last_name", "episode_id")
    )
    today = timezone.localdate()
    actions = audit_actions_for(user).filter(audit_case__sample=sample)
    context = {
        "sample": sample,
        "cases": cases,
        "open_actions": actions.filter(completed_at__isnull=True).count(),
        "overdue_actions": actions.filter(completed_at__isnull=True, due_on__lt=today).count(),
    }
    return render(request, "managers/audit/sample.html", context)


def _render_case(
    request: HttpRequest,
    audit_case: Any,
    *,
    form: AuditCaseForm | None = None,
    action_form: AuditActionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user: Any = request.user
    today = timezone.localdate()
    is_manager = _is_manager(user)
    if is_manager and form is None:
        findings = {f.item: f for f in audit_case.findings.all()}
        initial: dict[str, Any] = {"summary": audit_case.summary}
        for item, finding in findings.items():
            initial[f"result_{item}"] = finding.result
            initial[f"note_{item}"] = finding.note
        form = AuditCaseForm(initial=initial)
    if is_manager and action_form is None:
        action_form = AuditActionForm(owners=_owners(user), today=today)
    access_log_record(user=user, children=[audit_case.episode.child], action=AccessAction.VIEW, path=request.path)
    labels = dict(AuditItem.choices)
    context = {
        "audit_case": audit_case,
        "episode": audit_case.episode,
        "findings": [
            {"label": labels.get(f.item, f.item), "result": f.get_result_display(), "note": f.note, "met": f.result}
            for f in sorted(
                audit_case.findings.all(), key=lambda f: list(labels).index(f.item) if f.item in labels else 99
            )
        ],
        "actions": list(audit_case.actions.select_related("owner", "completed_by")),
        "form": form,
        "action_form": action_form,
        "is_manager": is_manager,
        "today": today,
    }
    return render(request, "managers/audit/case.html", context, status=status)


@role_required(*READERS)
@require_http_methods(["GET", "POST"])
def audit_case(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    audit_case = get_object_or_404(audit_cases_for(user), pk=pk)
    if request.method == "GET":
        return _render_case(request, audit_case)
    if not _is_manager(user):
        raise PermissionDenied
    form = AuditCaseForm(request.POST)
    if form.is_valid():
        try:
            audit_case_record(
                audit_case=audit_case, actor=user, findings=form.findings(), summary=form.cleaned_data["summary"]
            )
        except AuditError as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(request, f"Audit of {audit_case.episode.reference} saved")
            return redirect("audit:case", pk=audit_case.pk)
    return _render_case(request, audit_case, form=form, status=400)


@role_required(Role.EHE_MANAGER)
@require_POST
def audit_action_new(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    audit_case = get_object_or_404(audit_cases_for(user), pk=pk)
    today = timezone.localdate()
    form = AuditActionForm(request.POST, owners=_owners(user), today=today)
    if form.is_valid():
        data = form.cleaned_data
        try:
            action = audit_action_add(
                audit_case=audit_case,
                actor=user,
                description=data["description"],
                owner=data["owner"],
                due_on=data["due_on"],
            )
        except AuditError as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(request, f"Action recorded for {action.owner.display_name}, due {action.due_on:%-d %B %Y}")
            return redirect("audit:case", pk=audit_case.pk)
    return _render_case(request, audit_case, action_form=form, status=400)


@role_required(*sorted(LA_ROLES))
@require_POST
def audit_action_done(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    action = get_object_or_404(
        audit_actions_for(user) if user.roles & AUDIT_READERS else user.audit_actions.all(), pk=pk
    )
    try:
        audit_action_complete(action=action, actor=user)
    except AuditError as refused:
        raise PermissionDenied(str(refused)) from refused
    messages.success(request, "Action marked as done")
    return redirect("audit:case", pk=action.audit_case_id) if user.roles & AUDIT_READERS else redirect("home")


@role_required(*READERS)
@require_GET
def audit_results_page(request: HttpRequest) -> HttpResponse:
    results = audit_results(request.user)
    items = list(AuditItem)
    rows = [
        {
            "month": r.month,
            "audited": r.audited,
            "average_score": r.average_score,
            "rates": [r.pass_rates.get(item.value) for item in items],
        }
        for r in results
    ]
    return render(request, "managers/audit/results.html", {"rows": rows, "items": items})
