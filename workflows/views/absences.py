"""Officer absences: the page listing current and future absences, and the form to record one.

Officers record their own absence; EHE managers anyone's in their LA. An absence starts today or
later (planned or unexpected: an unexpected one starts today). An absence that starts today
moves the officer's cases that have work due soon at once, by the LA's cover rule
(``workflows.services.absence.absence_cover_apply``), rather than at the next sweep.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from ehe_register.accounts.guards import role_required
from ehe_register.models import Absence, User
from ehe_register.roles import Role
from ehe_register.selectors import episodes_for
from workflows.forms import AbsenceForm
from workflows.selectors import officers_of
from workflows.services.absence import absence_cover_apply
from workflows.states import ACTIVE_STATES

ABSENCE_ROLES = (Role.EHE_OFFICER, Role.EHE_MANAGER)


def absences_for(user: Any, today: date) -> QuerySet[Absence]:
    """Current and future absences: an EHE manager sees every officer of the LA, an officer their own."""
    absences = Absence.objects.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today)).select_related(
        "officer", "recorded_by"
    )
    if user.has_role(Role.EHE_MANAGER):
        absences = absences.filter(officer__local_authority_id=user.local_authority_id)
    else:
        absences = absences.filter(officer=user)
    return absences.order_by("starts_on", "officer__first_name", "officer__last_name", "pk")


def absence_record(
    *, officer: User, kind: str, starts_on: date, ends_on: date | None, actor: User, as_of: datetime
) -> tuple[Absence, int]:
    """Record an officer's absence; returns it and how many cases moved at once.

    Refused: an officer recording someone else's absence, an officer of another LA, a start in
    the past, an end before the start, and an absence overlapping one already recorded.
    """
    today = timezone.localdate(as_of)
    if officer.local_authority_id != actor.local_authority_id or not officer.has_role(Role.EHE_OFFICER):
        raise ValidationError("Choose an EHE officer of your local authority")
    if not actor.has_role(Role.EHE_MANAGER) and officer.pk != actor.pk:
        raise PermissionDenied("Only an EHE manager can record another officer's absence")
    if starts_on < today:
        raise ValidationError("First day of absence must be today or in the future")
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError("Last day of absence must be the same as or after the first day")
    with transaction.atomic():
        # Two people recording the same officer's absence at once: one waits for the other.
        User.objects.select_for_update().filter(pk=officer.pk).first()
        overlapping = Absence.objects.filter(officer=officer).filter(
            Q(ends_on__isnull=True) | Q(ends_on__gte=starts_on)
        )
        if ends_on is not None:
            overlapping = overlapping.filter(starts_on__lte=ends_on)
        if overlapping.exists():
            raise ValidationError(f"{officer.display_name} is already recorded as absent for some of those days")
        absence = Absence.objects.create(
            officer=officer,
            kind=kind,
            starts_on=starts_on,
            ends_on=ends_on,
            recorded_by=actor,
            recorded_at=as_of,
        )
        moved = 0
        if starts_on == today:
            cases = list(
                episodes_for(actor)
                .filter(assigned_officer=officer, state__in=ACTIVE_STATES)
                .values_list("pk", flat=True)
            )
            if cases:
                la = officer.local_authority
                assert la is not None
                moved = len(absence_cover_apply(as_of=as_of, local_authorities=[la], episode_ids=cases).moves)
        return absence, moved


@role_required(*ABSENCE_ROLES)
@require_GET
def absence_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    absences = list(absences_for(request.user, today))
    context = {
        "absences": absences,
        "today": today,
        "is_manager": request.user.has_role(Role.EHE_MANAGER),  # type: ignore[union-attr]
    }
    return render(request, "officers/absences.html", context)


@role_required(*ABSENCE_ROLES)
@require_http_methods(["GET", "POST"])
def absence_new(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    now = timezone.now()
    today = timezone.localdate(now)
    is_manager = user.has_role(Role.EHE_MANAGER)
    form = AbsenceForm(request.POST or None, officers=officers_of(user) if is_manager else None, today=today)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        officer = data["officer"] if is_manager else user
        try:
            absence, moved = absence_record(
                officer=officer,
                kind=data["kind"],
                starts_on=data["starts_on"],
                ends_on=data.get("ends_on"),
                actor=user,
                as_of=now,
            )
        except (PermissionDenied, ValidationError) as refused:
            messages_ = refused.messages if isinstance(refused, ValidationError) else [str(refused)]
            for message in messages_:
                form.add_error(None, message)
        else:
            text = f"Absence recorded for {absence.officer.display_name}"
            if moved:
                text += f". {moved} case{'s' if moved != 1 else ''} with work due soon moved to cover"
            messages.success(request, text)
            return redirect("cases:absences")
    return render(request, "officers/absence_new.html", {"form": form, "is_manager": is_manager})
