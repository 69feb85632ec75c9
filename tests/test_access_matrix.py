"""Who may reach which URL. Add every new URL here: a URL missing from EXPECTED fails this test."""

from __future__ import annotations

from typing import Any

import pytest

from ehe_register.models import LocalAuthority
from ehe_register.roles import Role
from tests.access_matrix import (
    ADMIN,
    ANONYMOUS,
    FORBIDDEN,
    LOGIN,
    METHOD,
    OK,
    OTHER_LA,
    REDIRECT,
    matrix_mismatches,
    url_names,
)
from tests.factories import make_user

LA_STAFF = [
    Role.EHE_OFFICER,
    Role.CSPA_DUTY_WORKER,
    Role.CSPA_MANAGER,
    Role.EHE_MANAGER,
    Role.HEAD_OF_SERVICE,
    Role.AUDITOR,
]
EVERYONE = [ANONYMOUS, *[r.value for r in Role], OTHER_LA]
SIGNED_IN = [p for p in EVERYONE if p != ANONYMOUS]


def expect(default: str, **overrides: str) -> dict[str, str]:
    return {principal: overrides.get(principal, default) for principal in EVERYONE}


EXPECTED: dict[str, dict[str, str]] = {
    "home": expect(OK, anonymous=LOGIN, administrator=REDIRECT),
    "healthz": expect(OK),
    "accessibility": expect(OK),
    "privacy": expect(OK),
    "accounts:sign_in": expect(REDIRECT, anonymous=OK),
    "accounts:sign_out": expect(METHOD),
    "accounts:signed_out": expect(OK),
    "accounts:two_factor": expect(REDIRECT, anonymous=LOGIN),
    "accounts:two_factor_setup": expect(OK, anonymous=LOGIN),
    ADMIN: expect(REDIRECT, administrator=OK),
}


@pytest.fixture
def principals(la: LocalAuthority, other_la: LocalAuthority) -> dict[str, Any]:
    users: dict[str, Any] = {ANONYMOUS: None}
    for role in Role:
        users[role.value] = make_user(role, la)
    users[OTHER_LA] = make_user(Role.EHE_OFFICER, other_la)
    return users


@pytest.mark.django_db
def test_every_url_answers_every_principal_as_the_table_says(principals: dict[str, Any]) -> None:
    assert matrix_mismatches(EXPECTED, principals) == []


def test_every_url_is_in_the_table() -> None:
    assert url_names() == set(EXPECTED)


@pytest.mark.django_db
def test_the_matrix_catches_an_unguarded_view(principals: dict[str, Any], settings: Any) -> None:
    urlconf = "tests.urls_with_unguarded_view"
    settings.ROOT_URLCONF = urlconf
    missing = matrix_mismatches(EXPECTED, principals, urlconf=urlconf)
    assert missing == ["leaky: not in the access table"]

    # Declared as it should be (staff only), the unguarded view is caught answering everyone.
    table = {**EXPECTED, "leaky": expect(FORBIDDEN, anonymous=LOGIN, **{r.value: OK for r in LA_STAFF})}
    problems = matrix_mismatches(table, principals, urlconf=urlconf)
    assert "leaky as anonymous: expected login, got ok" in problems
    assert "leaky as school_user: expected forbidden, got ok" in problems
