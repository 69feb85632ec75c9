"""Retention screens: the legal holds on a child's records (EHE managers place and lift them),
and what the next monthly runs will anonymise (EHE managers, heads of service and auditors read
it; a manager places a hold from there).

The holds page shows the child's name, so every view of it is logged like the case page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from ehe_register.accounts.guards import role_required
from ehe_register.models import AccessAction, Anonymisation, LegalHold, LocalAuthority, RetentionRun
from ehe_register.roles import Role
from ehe_register.services.access import access_log_record
from workflows.forms_retention import LegalHoldForm, LiftHoldForm
from workflows.selectors import episode_for
from workflows.services.legal_holds import legal_hold_lift, legal_hold_place
from workflows.services.retention import retention_coming

RETENTION_READERS = (Role.AUDITOR, Role.EHE_MANAGER, Role.HEAD_OF_SERVICE)
RECENT_RUNS = 12


@role_required(Role.EHE_MANAGER)
@require_http_methods(["GET", "POST"])
def legal_holds(request: HttpRequest, pk: int) -> HttpResponse:
    """The holds on the case's child, and the form to place one."""
    user: Any = request.user
    episode = episode_for(user, pk)
    child = episode.child
    now = timezone.now()
    form = LegalHoldForm(request.POST or None, today=timezone.localdate(now))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                legal_hold_place(
                    child_id=child.pk,
                    reason=form.cleaned_data["reason"],
                    until=form.cleaned_data.get("until"),
                    actor=user,
                    as_of=now,
                )
            except ValidationError as refused:
                for message in refused.messages:
                    form.add_error(None, message)
            else:
                messages.success(request, f"Legal hold placed on {child.full_name}'s records")
                return redirect("cases:legal_holds", pk=episode.pk)
        status = 400
    access_log_record(user=user, children=[child], action=AccessAction.VIEW, path=request.path)
    today = timezone.localdate(now)
    holds = list(LegalHold.objects.filter(child=child).select_related("placed_by", "lifted_by"))
    context = {
        "episode": episode,
        "child": child,
        "form": form,
        "holds_in_force": [h for h in holds if h.in_force_on(today)],
        "holds_past": [h for h in holds if not h.in_force_on(today)],
        "retention_birthday": child.local_authority.retention_until_birthday,
    }
    return render(request, "managers/legal_holds.html", context, status=status)


@role_required(Role.EHE_MANAGER)
@require_http_methods(["GET", "POST"])
def legal_hold_lift_view(request: HttpRequest, pk: int, hold_pk: int) -> HttpResponse:
    user: Any = request.user
    episode = episode_for(user, pk)
    hold = LegalHold.objects.filter(pk=hold_pk, child_id=episode.child_id, lifted_at__isnull=True).first()
    if hold is None:
        raise Http404
    form = LiftHoldForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                legal_hold_lift(hold_id=hold.pk, reason=form.cleaned_data["reason"], actor=user)
            except (PermissionDenied, ValidationError) as refused:
                form.add_error(None, refused.messages[0] if isinstance(refused, ValidationError) else str(refused))
            else:
                messages.success(request, f"Legal hold on {episode.child.full_name}'s records lifted")
                return redirect("cases:legal_holds", pk=episode.pk)
        status = 400
    access_log_record(user=user, children=[episode.child], action=AccessAction.VIEW, path=request.path)
    context = {"episode": episode, "child": episode.child, "hold": hold, "form": form}
    return render(request, "managers/legal_hold_lift.html", context, status=status)


@role_required(*RETENTION_READERS)
@require_GET
def retention_page(request: HttpRequest) -> HttpResponse:
    """What the next two monthly runs will anonymise in the user's LA, and the recent runs."""
    user: Any = request.user
    la = LocalAuthority.objects.get(pk=user.local_authority_id)
    today = timezone.localdate()
    next_run, run_after, records = retention_coming(la, today)
    runs = []
    mine = Q(local_authority__isnull=True) | Q(local_authority=la)
    for run in RetentionRun.objects.filter(mine, finished_at__isnull=False).order_by("-started_at")[:RECENT_RUNS]:
        runs.append({"run": run, "children": Anonymisation.objects.filter(run=run, local_authority=la).count()})
    context = {
        "la": la,
        "next_run": next_run,
        "run_after": run_after,
        "records": records,
        "held": sum(1 for r in records if r.held),
        "runs": runs,
        "may_hold": user.has_role(Role.EHE_MANAGER),
    }
    return render(request, "managers/retention.html", context)
