"""Sign-in lockout: by user name at an address, plus a higher limit for each address.

django-axes counts failures and locks with one threshold. We want two:

* ``EHE_LOCKOUT_FAILURES`` failures for one user name *from one address* lock that user name at
  that address only. Someone who knows a duty worker's user name cannot lock them out from
  elsewhere: the worker can still sign in from their own office.
* ``EHE_LOCKOUT_ADDRESS_FAILURES`` failures from one address, across all user names, lock that
  address. One address trying many user names (a password-spraying script) is stopped without
  touching anyone signing in from anywhere else. The limit is higher than the per-user one so a
  council office behind one address is not locked out together by a few mistyped passwords.

axes keeps the per-user-at-address count (``AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]``);
:class:`UserAtAddressLockoutHandler` adds the address count from the same ``AccessAttempt`` rows,
within the same cool-off window. A successful sign-in clears only that user's rows at that
address, so signing in with one's own account does not wipe the failures one made on others.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_address(request: HttpRequest) -> str | None:
    """The address the request came from, looking through ``EHE_TRUSTED_PROXIES`` proxies.

    Behind a TLS proxy ``REMOTE_ADDR`` is the proxy's own address, which would put every user
    at one address. Each trusted proxy appends the address it saw to ``X-Forwarded-For``, so the
    client is the entry that many places from the right; entries further left are whatever the
    client sent and are not trusted.
    """
    proxies = settings.EHE_TRUSTED_PROXIES
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def address_failures(request: HttpRequest) -> int:
    """Failed sign-ins from the request's address, for any user name, within the cool-off time."""
    attempts = AccessAttempt.objects.filter(ip_address=request.axes_ip_address)  # type: ignore[attr-defined]
    if settings.AXES_COOLOFF_TIME is not None:
        attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


def address_locked(request: HttpRequest) -> bool:
    limit = settings.EHE_LOCKOUT_ADDRESS_FAILURES
    # axes fills in its own settings' defaults when it loads (axes.conf), hence getattr.
    return bool(getattr(settings, "AXES_LOCK_OUT_AT_FAILURE", True)) and address_failures(request) >= limit


class UserAtAddressLockoutHandler(AxesDatabaseHandler):
    """axes' database handler with the per-address limit added (see the module docstring)."""

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        if super().is_locked(request, credentials):
            return True
        if address_locked(request):
            request.ehe_lockout_by_address = True  # type: ignore[attr-defined]
            return True
        return False

    def user_login_failed(
        self, sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
    ) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or request.axes_locked_out or self.is_whitelisted(request, credentials):  # type: ignore[attr-defined]
            return
        if address_locked(request):
            request.axes_locked_out = True  # type: ignore[attr-defined]
            request.axes_credentials = credentials  # type: ignore[attr-defined]
            request.ehe_lockout_by_address = True  # type: ignore[attr-defined]
            user_locked_out.send(
                "axes",
                request=request,
                username=get_client_username(request, credentials),
                ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
            )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """The page a locked-out sign-in sees: which lock it hit and for how long (HTTP 429)."""
    cool_off = settings.AXES_COOLOFF_TIME
    minutes = int(cool_off.total_seconds() // 60) if isinstance(cool_off, timedelta) else None
    context = {"by_address": getattr(request, "ehe_lockout_by_address", False), "minutes": minutes}
    return render(request, "accounts/locked_out.html", context, status=429)
