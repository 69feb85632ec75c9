"""Two-factor sign-in when ``EHE_REQUIRE_2FA`` is on (who needs it: :mod:`ehe_register.accounts.two_factor`)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from ehe_register.accounts.two_factor import two_factor_required_for

# Paths a half-signed-in user may reach: signing in and out, the second step and enrolment
# (each of whose views checks what it needs), assets, the health check. Not the rest of
# /accounts/: the administrators' pages there need a second factor like any other.
_EXEMPT_PREFIXES = (
    "/accounts/sign-in/",
    "/accounts/sign-out/",
    "/accounts/signed-out/",
    "/accounts/two-factor/",
    "/static/",
    "/healthz",
)


class TwoFactorRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            settings.EHE_REQUIRE_2FA
            and user.is_authenticated
            and not user.is_verified()  # type: ignore[union-attr,attr-defined]
            and not request.path.startswith(_EXEMPT_PREFIXES)
            and two_factor_required_for(user)
        ):
            return redirect(f"{reverse('accounts:two_factor')}?next={request.get_full_path()}")
        return self.get_response(request)


class NoStoreForSignedInUsersMiddleware:
    """Every response to a signed-in user says ``Cache-Control: no-store``.

    Pages show children's records; a shared or kiosk browser, or a proxy, must not keep a copy
    that the back button or the next person could bring up after sign-out.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response
