"""Escalations worked from the screen (DESIGN section 5, "Acknowledge and decide").

- ``escalation_list``: every open escalation the user or one of their roles owns, oldest due first.
- ``escalation_detail``: one escalation: its case, level, due time, history and concerns, with the
  forms to acknowledge it (with a note) and, where its rule asks for one, to decide it.
- ``escalation_acknowledge`` and ``escalation_decide``: the forms' POSTs, from this page or the
  case page; back to where the user came from (a local ``next``) when done.

Another LA's escalation is a 404 (``escalation_for``); a user who may not act on it gets 403.
A page someone else has acted on since it loaded is refused with who and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from ehe_register.accounts.guards import role_required
from ehe_register.models import AccessAction
from ehe_register.roles import Role
from ehe_register.services.access import access_log_record
from workflows.forms_escalations import AcknowledgeForm, ConsentDecisionForm, FrontDoorDecisionForm
from workflows.models import Concern, Escalation, EscalationEvent
from workflows.selectors import ESCALATION_ROLES, escalation_for, escalation_row, escalations_for
from workflows.services.escalations import (
    EscalationChanged,
    decisions_for,
    escalation_acknowledge_as,
    escalation_decide,
    escalation_may_act,
)
from workflows.services.transitions import StaleVersion, TransitionRefused

ROLES = tuple(sorted(ESCALATION_ROLES))
DecisionForm = FrontDoorDecisionForm | ConsentDecisionForm


@dataclass
class EscalationPanel:
    """One open escalation with the forms the user may use on it (None where they may not)."""

    escalation: Escalation
    summary: str
    overdue: bool
    may_act: bool
    acknowledge_form: AcknowledgeForm | None
    decide_form: DecisionForm | None
    decide_kind: str  # "front_door", "consent" or ""
    why_no_decision: str = ""


def _decide_form_class(escalation: Escalation) -> type[DecisionForm] | None:
    choices = decisions_for(escalation.rule)
    if not choices:
        return None
    return ConsentDecisionForm if escalation.rule == "consent_required" else FrontDoorDecisionForm


def escalation_panel(
    user: Any,
    escalation: Escalation,
    now: datetime,
    *,
    acknowledge_form: AcknowledgeForm | None = None,
    decide_form: DecisionForm | None = None,
) -> EscalationPanel:
    row = escalation_row(escalation, now)
    may_act = escalation.resolved_at is None and escalation_may_act(escalation, user)
    form_class = _decide_form_class(escalation)
    why = ""
    kind = ""
    if form_class is not None:
        kind = "consent" if form_class is ConsentDecisionForm else "front_door"
        if kind == "consent" and not user.has_role(Role.EHE_MANAGER):
            # The consent decision is the EHE manager's (the transition's permission).
            form_class, why = None, "The consent decision is made by an EHE manager."
    if may_act and acknowledge_form is None and escalation.acknowledged_at is None:
        acknowledge_form = AcknowledgeForm(escalation=escalation)
    if may_act and decide_form is None and form_class is not None:
        decide_form = form_class(escalation=escalation)
    return EscalationPanel(
        escalation=escalation,
        summary=row.summary,
        overdue=row.overdue,
        may_act=may_act,
        acknowledge_form=acknowledge_form if may_act and escalation.acknowledged_at is None else None,
        decide_form=decide_form if may_act else None,
        decide_kind=kind,
        why_no_decision=why,
    )


def _next_url(request: HttpRequest, escalation: Escalation) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("cases:escalation", kwargs={"pk": escalation.pk})


@role_required(*ROLES)
@require_GET
def escalation_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = [escalation_row(e, now) for e in escalations_for(request.user)]
    return render(request, "officers/escalations.html", {"rows": rows})


def _render_detail(
    request: HttpRequest,
    escalation: Escalation,
    *,
    status: int = 200,
    acknowledge_form: AcknowledgeForm | None = None,
    decide_form: DecisionForm | None = None,
) -> HttpResponse:
    episode = escalation.episode
    access_log_record(
        user=request.user,  # type: ignore[arg-type]
        children=[episode.child],
        action=AccessAction.VIEW,
        path=request.path,
    )
    panel = escalation_panel(
        request.user, escalation, timezone.now(), acknowledge_form=acknowledge_form, decide_form=decide_form
    )
    context = {
        "escalation": escalation,
        "episode": episode,
        "child": episode.child,
        "panel": panel,
        "events": EscalationEvent.objects.filter(escalation=escalation).order_by("at", "id"),
        "concerns": Concern.objects.filter(escalation=escalation).order_by("raised_at", "id"),
        "errors": [f for f in (acknowledge_form, decide_form) if f is not None and f.errors],
    }
    return render(request, "officers/escalation.html", context, status=status)


@role_required(*ROLES)
@require_GET
def escalation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, escalation_for(request.user, pk))


def _refused(form: Any, error: Exception) -> None:
    if isinstance(error, ValidationError):
        for message in error.messages:
            form.add_error(None, message)
    else:
        form.add_error(None, str(error) or "You cannot do that")


@role_required(*ROLES)
@require_POST
def escalation_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    escalation = escalation_for(request.user, pk)
    if not escalation_may_act(escalation, request.user):
        raise PermissionDenied
    form = AcknowledgeForm(request.POST, escalation=escalation)
    if not form.is_valid():
        return _render_detail(request, escalation, status=400, acknowledge_form=form)
    try:
        escalation_acknowledge_as(escalation_id=escalation.pk, actor=request.user, note=form.cleaned_data["note"])
    except (EscalationChanged, ValidationError) as error:
        _refused(form, error)
        return _render_detail(request, escalation_for(request.user, pk), status=409, acknowledge_form=form)
    messages.success(
        request, f"Escalation acknowledged on case {escalation.episode.reference}. It stays with you at this level."
    )
    return redirect(_next_url(request, escalation))


@role_required(*ROLES)
@require_POST
def escalation_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    escalation = escalation_for(request.user, pk)
    if not escalation_may_act(escalation, request.user):
        raise PermissionDenied
    form_class = _decide_form_class(escalation)
    if form_class is None:
        messages.warning(request, "This escalation has no decision to record. Acknowledge it instead.")
        return redirect("cases:escalation", pk=escalation.pk)
    form = form_class(request.POST, escalation=escalation)
    if not form.is_valid():
        return _render_detail(request, escalation, status=400, decide_form=form)
    data = form.cleaned_data
    try:
        escalation_decide(
            escalation_id=escalation.pk,
            actor=request.user,
            decision=data["decision"],
            reference=data.get("reference", "").strip(),
            note=data.get("note", "").strip(),
            expected_version=data["version"],
            seen_acknowledged=form.seen_acknowledged_value(),
        )
    except (EscalationChanged, StaleVersion, TransitionRefused, ValidationError, PermissionDenied) as error:
        _refused(form, error)
        return _render_detail(request, escalation_for(request.user, pk), status=409, decide_form=form)
    episode = escalation_for(request.user, pk).episode  # as committed now
    messages.success(
        request,
        f"Decision recorded on case {episode.reference}. The escalation is resolved. "
        f"Status: {episode.get_state_display()}.",
    )
    return redirect(_next_url(request, escalation))
