from __future__ import annotations

from typing import Any

import pytest

from ehe_register.models import LocalAuthority
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
