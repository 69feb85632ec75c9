"""Name keys in bulk: ``name_key_may_be`` (the database keeps back only names whose key cannot be
among those sought) and ``name_keys_remembered`` (the same keys, worked out once)."""

from __future__ import annotations

import pytest

from ehe_register.models import Child, LocalAuthority
from ehe_register.services import matching
from ehe_register.services.matching import name_key, name_key_may_be, name_keys_remembered
from tests.factories import ChildFactory
from tests.hostile import BLNS

NAMES = [
    "Maya", "MAYA", "maya", "Ma-ya", "Ma ya", "O'Brien", "OBrien", "o brien", "Zoë", "Zoe", "ZOE",
    "Łukasz", "Lukasz", "Siobhán", "Siobhan", "Алёна", "Алена", "王小明", "İlker", "Ilker", "ß", "ss",
    "Jo3", "Jo", "123", "-", "ℌenry", "Henry", "ﬁona", "fiona", "Ｆｉｏｎａ", "Chen", "Wu",  # noqa: RUF001 - look-alike letters on purpose
]  # fmt: skip


def _hostile() -> list[str]:
    """The hostile strings a name field can hold (no null character, at most 100 characters)."""
    return [s for s in BLNS if s.strip() and "\x00" not in s and len(s) <= 100]


@pytest.mark.django_db
def test_every_name_with_a_sought_key_passes_and_other_ascii_names_do_not(la: LocalAuthority) -> None:
    names = NAMES + _hostile()
    for name in names:
        ChildFactory(local_authority=la, legal_first_name=name)
    for sought in (["maya"], ["obrien", "zoe"], ["lukasz", "алена", "henry"], ["fiona", "ss"], [name_key("İlker")]):
        passed = set(
            Child.objects.filter(name_key_may_be("legal_first_name", sought), local_authority=la).values_list(
                "legal_first_name", flat=True
            )
        )
        should = {name for name in names if name_key(name) in sought}
        assert should <= passed, sought
        # An ASCII name is kept back exactly when its key is not sought.
        assert {n for n in passed if n.isascii()} == {n for n in should if n.isascii()}, sought
        assert {n for n in names if not n.isascii()} <= passed
    assert len(names) > 300


def test_keys_remembered_within_a_block_are_the_keys_and_go_at_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    names = NAMES + _hostile()
    worked_out = [name_key(name) for name in names]
    monkeypatch.setattr(matching, "NAME_KEYS_REMEMBERED", 50)
    with name_keys_remembered():
        assert [name_key(name) for name in names] == worked_out
        assert [name_key(name) for name in names] == worked_out  # the second time, remembered
        assert len(matching._REMEMBERED.get() or {}) == 50  # no more than the limit
    assert matching._REMEMBERED.get() is None
