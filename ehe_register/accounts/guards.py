"""The one view guard. Every view in the product is wrapped in :func:`role_required` (or is
listed as public in the access matrix test), so access is declared where the view is."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from ehe_register.roles import LA_ROLES, Role

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def role_required(*roles: Role) -> Callable[[View], View]:
    """Allow signed-in users holding any of ``roles``; LA roles also need an LA, school users a school.

    Anonymous users are sent to sign in; signed-in users without the role get 403.
    """
    if not roles:
        raise ValueError("role_required needs at least one role")
    allowed = frozenset(roles)

    def decorator(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user_may_act_as(user, allowed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        guarded.allowed_roles = allowed  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorator


def user_may_act_as(user: Any, roles: frozenset[Role]) -> bool:
    if not user.is_active:
        return False
    held = user.roles & roles
    if not held:
        return False
    if held & LA_ROLES and user.local_authority_id is None:
        return False
    # A school user with no school acts for nobody.
    return not (held == {Role.SCHOOL_USER} and not user.schools.exists())


def public(view: View) -> View:
    """Mark a view as deliberately open to everyone (sign-in, health check, static pages)."""
    view.is_public = True  # type: ignore[attr-defined]
    return view
