"""Navigation items by role, declared once. Later screens add their entries here."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from ehe_register.roles import LA_ROLES, Role


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    roles: frozenset[Role]


NAV_ITEMS: list[NavItem] = [
    NavItem("Home", "home", LA_ROLES | {Role.SCHOOL_USER}),
    NavItem("Notify a child", "schools:notify", frozenset({Role.SCHOOL_USER})),
    NavItem("Your notifications", "schools:notification_list", frozenset({Role.SCHOOL_USER})),
    NavItem("Requests to confirm details", "schools:request_list", frozenset({Role.SCHOOL_USER})),
    NavItem("Queues", "cases:index", LA_ROLES),
    NavItem("New case", "cases:new", frozenset({Role.EHE_OFFICER, Role.EHE_MANAGER})),
    NavItem("Absences", "cases:absences", frozenset({Role.EHE_OFFICER, Role.EHE_MANAGER})),
    NavItem("Imports", "imports:index", frozenset({Role.EHE_OFFICER, Role.EHE_MANAGER})),
    NavItem("Quality audit", "audit:index", frozenset({Role.EHE_MANAGER, Role.HEAD_OF_SERVICE, Role.AUDITOR})),
    NavItem("Access log", "auditor:access_log", frozenset({Role.EHE_MANAGER, Role.HEAD_OF_SERVICE, Role.AUDITOR})),
    NavItem("Returns and exports", "exports:index", frozenset({Role.EHE_MANAGER, Role.HEAD_OF_SERVICE, Role.AUDITOR})),
    NavItem("Administration", "admin:index", frozenset({Role.ADMINISTRATOR})),
]


def navigation_for(request: HttpRequest) -> list[dict[str, object]]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    items = []
    for item in NAV_ITEMS:
        if user.roles & item.roles:
            url = reverse(item.url_name)
            items.append({"label": item.label, "url": url, "active": request.path == url})
    return items
