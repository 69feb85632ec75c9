"""Home pages by role, the health check and the static information pages."""

from __future__ import annotations

import sys

from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.db.utils import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.cache import never_cache

from ehe_register.accounts.guards import public
from ehe_register.models import LocalAuthority
from ehe_register.roles import Role
from workflows.views.dashboard import DASHBOARD_ROLES, dashboard_page

# The first role a user holds in this order picks their home page.
HOME_TEMPLATES: list[tuple[Role, str]] = [
    (Role.CSPA_MANAGER, "cspa/home.html"),
    (Role.CSPA_DUTY_WORKER, "cspa/home.html"),
    (Role.EHE_OFFICER, "officers/home.html"),
    (Role.AUDITOR, "auditors/home.html"),
    (Role.SCHOOL_USER, "schools/home.html"),
]


@public
def home(request: HttpRequest) -> HttpResponse:
    """Send each user to the page for their role. Signed-in users with no role see an explanation.

    EHE managers and heads of service see their dashboard here."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if user.has_role(*DASHBOARD_ROLES):  # type: ignore[union-attr]
        return dashboard_page(request)
    for role, template in HOME_TEMPLATES:
        if user.has_role(role):  # type: ignore[union-attr]
            return render(request, template, {"role": role})
    if user.has_role(Role.ADMINISTRATOR) and user.is_staff:  # type: ignore[union-attr]
        return redirect("admin:index")
    return render(request, "accounts/no_role.html", status=403)


@public
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database answers; 503 otherwise. Says nothing else."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


@public
def accessibility(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/accessibility.html")


@public
def privacy(request: HttpRequest) -> HttpResponse:
    """The privacy notice: what is held, why, for how long (each council's retention setting) and
    how to ask for it (each council's EHE team)."""
    councils = LocalAuthority.objects.filter(uses_service=True).order_by("name")
    return render(request, "pages/privacy.html", {"councils": councils})


def server_error(request: HttpRequest) -> HttpResponse:
    """The product's own error page (``handler500``), rendered without the database.

    When the error is the database going away (the server stopped or restarted, the connection
    dropped mid-request), the page says the service is unavailable (503, with ``Retry-After``)
    rather than that something broke: trying again in a minute is the right thing to do. Django
    calls this inside its exception handler, so ``sys.exc_info()`` is the error.
    """
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        page = loader.get_template("503.html").render()
        response = HttpResponse(page, status=503)
        response["Retry-After"] = "60"
        return response
    return HttpResponseServerError(loader.get_template("500.html").render())
