from __future__ import annotations

import pytest

from ehe_register.models import LocalAuthority
from ehe_register.services.reference_data import local_authorities_load, local_authority_rows

pytestmark = pytest.mark.django_db


def test_every_live_single_la_is_loaded_once() -> None:
    created, updated = local_authorities_load()
    assert (created, updated) == (153, 0)
    assert LocalAuthority.objects.count() == 153
    assert LocalAuthority.objects.values("dfe_code").distinct().count() == 153


def test_loading_twice_changes_nothing_and_keeps_the_las_settings() -> None:
    local_authorities_load()
    LocalAuthority.objects.filter(dfe_code="936").update(council_name="Surrey County Council", uses_service=True)
    assert local_authorities_load() == (0, 153)
    surrey = LocalAuthority.objects.get(dfe_code="936")
    assert (surrey.ons_code, surrey.name, surrey.council_name) == ("E10000030", "Surrey", "Surrey County Council")
    assert surrey.uses_service


@pytest.mark.parametrize(
    ("dfe_code", "ons_code"),
    [
        ("370", "E08000038"),  # Barnsley: the live row, not the terminated one with the same DfE code
        ("373", "E08000039"),
        ("929", "E06000057"),
        ("839", "E06000058"),
        ("810", "E06000010"),  # "Kingston upon Hull, City of": a quoted name
    ],
)
def test_traps_in_the_list(dfe_code: str, ons_code: str) -> None:
    local_authorities_load()
    assert LocalAuthority.objects.get(dfe_code=dfe_code).ons_code == ons_code


@pytest.mark.parametrize("code", ["940 / 941", "942 / 943", "314 / 318", "835", "909", "928", "x"])
def test_combined_terminated_and_unknown_codes_are_not_las_of_their_own(code: str) -> None:
    assert code not in {row.dfe_code for row in local_authority_rows()}


@pytest.mark.parametrize("code", ["940", "941", "942", "943", "314", "318"])
def test_the_las_behind_combined_rows_are_loaded_from_their_own_rows(code: str) -> None:
    assert code in {row.dfe_code for row in local_authority_rows()}
