"""``field__any=values`` finds what ``field__in=values`` finds, with the values as one parameter."""

from __future__ import annotations

from datetime import date

import pytest
from django.db.models import F, Func, Value

from ehe_register.models import Address, Child, LocalAuthority, Person
from tests.factories import AddressFactory, ChildFactory, PersonFactory


@pytest.mark.django_db
def test_any_finds_what_in_finds_for_dates_text_ids_foreign_keys_and_expressions(la: LocalAuthority) -> None:
    children = [ChildFactory(local_authority=la, date_of_birth=date(2014, 5, day)) for day in (1, 2, 3)]
    AddressFactory(child=children[0], postcode="GU1 4AA")
    PersonFactory(local_authority=la, emergency_phone="07700 900123")
    dates = [date(2014, 5, 1), date(2014, 5, 3), date(2019, 1, 1)]
    ids = [children[1].pk, 0]

    def same(model: type, **lookup: list[object]) -> set[int]:
        ((name, values),) = lookup.items()
        found = set(model.objects.filter(**{f"{name}__any": values}).values_list("pk", flat=True))
        assert found == set(model.objects.filter(**{f"{name}__in": values}).values_list("pk", flat=True))
        return found

    assert same(Child, date_of_birth=dates) == {children[0].pk, children[2].pk}
    assert same(Child, pk=ids) == {children[1].pk}
    assert same(Address, child_id=[children[0].pk]) == same(Address, postcode=["GU1 4AA", "GU2 1AA"]) != set()
    assert same(Child, upn=[]) == set()
    digits = Func(F("emergency_phone"), Value(r"[^0-9]"), Value(""), Value("g"), function="regexp_replace")
    assert Person.objects.annotate(_phone=digits).filter(_phone__any=["07700900123"]).count() == 1

    sql, params = Child.objects.filter(date_of_birth__any=dates).query.sql_with_params()
    assert "= ANY(%s)" in sql
    assert list(params) == [dates]
