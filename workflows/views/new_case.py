"""New case: an EHE officer or manager opens a case from a parent's own notice, another agency, or
their own knowledge. The service (``workflows.services.new_case.case_open``) matches the child and
runs the risk check exactly as school intake does."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ehe_register.accounts.guards import role_required
from ehe_register.roles import Role
from workflows.forms import NewCaseForm
from workflows.services.new_case import ChildHasOpenCase, case_open


@role_required(Role.EHE_OFFICER, Role.EHE_MANAGER)
@require_http_methods(["GET", "POST"])
def case_new(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    today = timezone.localdate()
    form = NewCaseForm(
        request.POST or None,
        today=today,
        officer=user.has_role(Role.EHE_OFFICER),
        initial={"received_on": today},
    )
    open_case = None
    if request.method == "POST" and form.is_valid():
        try:
            result = case_open(data=form.to_input(local_authority_id=user.local_authority_id), actor=user)
        except ChildHasOpenCase as known:
            open_case = known.episode
            form.add_error(None, str(known))
        except (PermissionDenied, ValidationError) as refused:
            for message in refused.messages if isinstance(refused, ValidationError) else [str(refused)]:
                form.add_error(None, message)
        else:
            episode = result.episode
            text = f"Case {episode.reference} opened. Status: {episode.get_state_display()}"
            if not result.child_created:
                text += ". The child was already on the register: the case is on their record"
            if result.likely_matches:
                n = result.likely_matches
                text += f". {n} possible match{'es' if n != 1 else ''} with other records to resolve"
            messages.success(request, text)
            return redirect("cases:detail", pk=episode.pk)
    return render(request, "officers/new_case.html", {"form": form, "open_case": open_case})
