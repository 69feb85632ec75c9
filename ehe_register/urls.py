from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from ehe_register.views import core
from imports.urls import auditor_patterns, export_patterns, import_patterns


def _admin_sign_in(request: HttpRequest, extra_context: object = None) -> HttpResponse:
    # One sign-in page for everyone, so lockout and two-factor apply to the admin too.
    if request.user.is_authenticated:
        raise PermissionDenied
    return redirect_to_login(request.get_full_path())


handler500 = "ehe_register.views.core.server_error"

admin.site.login = _admin_sign_in  # type: ignore[method-assign]
admin.site.site_header = "EHE register administration"

urlpatterns = [
    path("", core.home, name="home"),
    path("healthz", core.healthz, name="healthz"),
    path("accessibility/", core.accessibility, name="accessibility"),
    path("privacy/", core.privacy, name="privacy"),
    path("accounts/", include("ehe_register.accounts.urls")),
    path("notifications/", include("notifications.urls")),
    path("school/", include("ehe_register.urls_schools")),
    path("cases/", include("workflows.urls")),
    path("audit/", include("workflows.urls_audit")),
    path("auditor/", include(auditor_patterns)),
    path("exports/", include(export_patterns)),
    path("imports/", include(import_patterns)),
    path("admin/", admin.site.urls),
]
