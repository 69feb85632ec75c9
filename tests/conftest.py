from __future__ import annotations

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
