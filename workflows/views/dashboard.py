"""The manager's dashboard: the home page of EHE managers and heads of service (their LA only).

Reads only: the figures come from ``workflows.dashboard`` and the integrity check from
``workflows.integrity``, both scoped to the user's LA, in a fixed number of queries.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from ehe_register.accounts.guards import role_required
from ehe_register.roles import Role
from workflows.dashboard import AGE_BANDS, DUE_SOON_WORKING_DAYS, TREND_WEEKS, dashboard_for
from workflows.integrity import integrity_check

DASHBOARD_ROLES = (Role.EHE_MANAGER, Role.HEAD_OF_SERVICE)
INTEGRITY_LISTED = 50  # per invariant on the page; the command lists them all


@role_required(*DASHBOARD_ROLES)
@require_GET
def dashboard_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    as_of = timezone.now()
    dashboard = dashboard_for(user, as_of=as_of)
    integrity = integrity_check(
        as_of=as_of,
        la_code=user.local_authority.dfe_code,  # type: ignore[union-attr]
        listed=INTEGRITY_LISTED,
    )
    role = Role.EHE_MANAGER if user.has_role(Role.EHE_MANAGER) else Role.HEAD_OF_SERVICE  # type: ignore[union-attr]
    return render(
        request,
        "managers/dashboard.html",
        {
            "role": role,
            "dashboard": dashboard,
            "integrity": integrity,
            "age_bands": AGE_BANDS,
            "due_soon_days": DUE_SOON_WORKING_DAYS,
            "trend_weeks": TREND_WEEKS,
        },
    )
