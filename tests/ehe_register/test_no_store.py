"""Every response to a signed-in user carries ``Cache-Control: no-store``, so no browser or proxy
keeps a copy of a page about a child after the user signs out.

The URLs and who may open them come from the access matrix, so a new page is covered as soon as
it is added there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ehe_register.roles import Role
from tests.access_matrix import ADMIN, ANONYMOUS, OK
from tests.factories import make_user
from tests.test_access_matrix import EXPECTED, principals, url_kwargs  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

# Each page a signed-in user can open, with the first principal the table lets open it.
PAGES = sorted(
    (name, next(p for p, answer in expected.items() if answer == OK and p != ANONYMOUS))
    for name, expected in EXPECTED.items()
    if any(answer == OK and p != ANONYMOUS for p, answer in expected.items())
)


def _no_store(response: Any) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize(("name", "principal"), PAGES, ids=[name for name, _ in PAGES])
def test_signed_in_pages_are_not_stored(
    name: str,
    principal: str,
    principals: dict[str, Any],  # noqa: F811
    url_kwargs: dict[str, Callable[[], dict[str, Any]]],  # noqa: F811
) -> None:
    client = Client()
    client.force_login(principals[principal])
    url = reverse("admin:index" if name == ADMIN else name, kwargs=url_kwargs[name]() if name in url_kwargs else None)
    response = client.get(url)
    assert response.status_code == 200
    assert _no_store(response), f"{url} as {principal}: {response.get('Cache-Control')!r}"


@pytest.mark.parametrize("role", sorted(set(Role) - {Role.ADMINISTRATOR}))
def test_every_role_home_is_not_stored(role: Role, principals: dict[str, Any]) -> None:  # noqa: F811
    client = Client()
    client.force_login(principals[role.value])
    response = client.get(reverse("home"), follow=True)
    assert response.status_code == 200
    assert _no_store(response)


def test_redirects_and_refusals_to_a_signed_in_user_are_not_stored(la: Any) -> None:
    client = Client()
    client.force_login(make_user(Role.SCHOOL_USER, la))
    assert _no_store(client.get(reverse("cases:index")))  # 403
    assert _no_store(client.get(reverse("home")))  # 302 to the portal


def test_pages_for_nobody_signed_in_may_be_cached(client: Client) -> None:
    """The sign-in page carries no one's data; the header is only for signed-in users."""
    assert not _no_store(client.get(reverse("accessibility")))
