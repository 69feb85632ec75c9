"""The unread count of the signed-in user's in-app notifications, for the page header."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from ehe_register.roles import LA_ROLES, Role
from notifications.services import in_app_unread_count

RECEIVES_IN_APP = LA_ROLES | {Role.SCHOOL_USER}


def unread_notifications(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not (user.roles & RECEIVES_IN_APP):
        return {}
    return {"unread_notifications": in_app_unread_count(user=user)}
