from __future__ import annotations

from typing import Any

import pytest

from ehe_register.models import LocalAuthority, ReasonCode
from ehe_register.services.reference_data import reason_codes_load
from tests.factories import LocalAuthorityFactory


@pytest.fixture
def la(db: None) -> LocalAuthority:
    return LocalAuthorityFactory(
        dfe_code="936", ons_code="E10000030", name="Surrey", council_name="Surrey County Council"
    )


@pytest.fixture
def other_la(db: None) -> LocalAuthority:
    return LocalAuthorityFactory(dfe_code="938", ons_code="E10000032", name="West Sussex")


@pytest.fixture(autouse=True)
def test_settings(settings: Any) -> None:
    """For every test: a fast password hasher (the production one is slow by design, and the suite
    makes thousands of users), and no hand-off of new emails to a broker on commit (tests of the
    hand-off switch it back on; the outbox rows are what the other tests assert)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EHE_MESSAGE_PUSH = False


@pytest.fixture(autouse=True)
def reason_codes(request: pytest.FixtureRequest) -> None:
    """The DfE reasons for home education, for every test that uses the database.

    A migration loads them, but a transactional test's flush empties the table for the tests
    after it (as it does the role groups), and forms offer only the rows in the table.
    """
    names = request.fixturenames
    if "transactional_db" in names or "live_server" in names:
        request.getfixturevalue("transactional_db")
    elif "db" in names:
        request.getfixturevalue("db")
    elif request.node.get_closest_marker("django_db") is None:
        return
    if not ReasonCode.objects.exists():
        reason_codes_load()
