"""Officer absences: the page listing current and future absences, and the form to record one.

Officers record their own absence; EHE managers anyone's in their LA. An absence starts today or
later (planned or unexpected: an unexpected one starts today). An absence that starts today
moves the officer's cases that have work due soon at once, by the LA's cover rule
(``workflows.services.absence.absence_cover_apply``), rather than at the next sweep.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from ehe_register.accounts.guards import role_required
from ehe_register.roles import Role
from workflows.forms import AbsenceForm
from workflows.selectors import absences_for, officers_of
from workflows.services.absence import absence_record

ABSENCE_ROLES = (Role.EHE_OFFICER, Role.EHE_MANAGER)


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
