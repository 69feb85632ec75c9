"""The access matrix: every URL pattern x every principal against one expected-access table.

``url_names`` walks the URLconf, so a new URL that is missing from the table fails the build, and
``matrix_mismatches`` requests every URL as every principal and reports each answer that differs
from the table. The admin's own URLs are represented by ``admin:*`` and checked at its index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

ANONYMOUS = "anonymous"
OTHER_LA = "other_la_officer"

OK = "ok"
LOGIN = "login"  # 302 to the sign-in page
REDIRECT = "redirect"  # any other redirect
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
METHOD = "method_not_allowed"

ADMIN = "admin:*"


def url_names(urlconf: str | None = None) -> set[str]:
    names: set[str] = set()

    def walk(patterns: Iterable[Any], namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                if inner == "admin:":
                    names.add(ADMIN)
                    continue
                walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern):
                if not pattern.name:
                    names.add(f"{namespace}<unnamed {pattern.pattern}>")
                else:
                    names.add(f"{namespace}{pattern.name}")

    walk(get_resolver(urlconf).url_patterns, "")
    return names


def classify(status: int, location: str) -> str:
    if status in (301, 302, 303, 307, 308):
        return LOGIN if location.startswith(resolve_url(settings.LOGIN_URL)) else REDIRECT
    return {200: OK, 403: FORBIDDEN, 404: NOT_FOUND, 405: METHOD}.get(status, str(status))


def matrix_mismatches(
    table: Mapping[str, Mapping[str, str]],
    principals: Mapping[str, Any],
    url_kwargs: Mapping[str, Callable[[], dict[str, Any]]] | None = None,
    urlconf: str | None = None,
) -> list[str]:
    """Every difference between what the table expects and what each principal gets."""
    problems = [f"{name}: not in the access table" for name in sorted(url_names(urlconf) - set(table))]
    url_kwargs = url_kwargs or {}
    for name, expected in sorted(table.items()):
        if name not in url_names(urlconf):
            problems.append(f"{name}: in the access table but not a URL")
            continue
        lookup = "admin:index" if name == ADMIN else name
        url = reverse(lookup, urlconf=urlconf, kwargs=url_kwargs[name]() if name in url_kwargs else None)
        for principal, user in principals.items():
            if principal not in expected:
                problems.append(f"{name}: no expectation for {principal}")
                continue
            client = Client()
            if user is not None:
                client.force_login(user)
            response = client.get(url)
            got = classify(response.status_code, response.get("Location", ""))
            if got != expected[principal]:
                problems.append(f"{name} as {principal}: expected {expected[principal]}, got {got}")
    return problems
