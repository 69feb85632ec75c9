"""Matching children and parents at intake (DESIGN section 3, "Matching"): a match, a likely match
for an officer, or a different child, in every script; parents matched within the LA, which is
how siblings come to share their parents' rows.

Every case goes through the real intake paths: ``child_find_or_create`` (shared by school
notifications and officers' new cases) and the portal's ``notification_submit``.
"""

# The curly apostrophe is the point of several cases, not a typo.
# ruff: noqa: RUF001

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from ehe_register.models import Child, ChildPerson, LocalAuthority, OffRollNotification, Person, PossibleMatch
from ehe_register.roles import Role
from ehe_register.services.children import (
    ChildDetails,
    ChildFound,
    ParentDetails,
    child_find_or_create,
    child_identity_lock,
)
from ehe_register.services.matching import name_key
from tests.ehe_register.intake_data import notification_input
from tests.factories import SchoolFactory, make_user
from workflows.services.submission import notification_submit

LONDON = ZoneInfo("Europe/London")
DOB = date(2014, 5, 17)
pytestmark = pytest.mark.django_db


@pytest.fixture
def school(la: LocalAuthority) -> Any:
    return SchoolFactory(local_authority=la)


@pytest.fixture
def school_user(la: LocalAuthority, school: Any) -> Any:
    user = make_user(Role.SCHOOL_USER, la)
    user.schools.set([school])
    return user


def at(hour: int) -> datetime:
    return datetime(2026, 11, 24, hour, tzinfo=LONDON)


# ---------------------------------------------------------------------------------------------
# The name key
# ---------------------------------------------------------------------------------------------

SAME_KEY = [
    ("Zoë", "Zoe"),
    ("ZOË", "zoë"),
    ("Łukasz", "Lukasz"),
    ("Øyvind", "Oyvind"),
    ("Strauß", "STRAUSS"),
    ("O'Brien", "O’Brien"),
    ("O'Brien", "OBrien"),
    ("Anne-Marie", "Anne Marie"),
    ("Алёна", "АЛЕНА"),
    ("Νικόλαος", "ΝΙΚΟΛΑΟΣ"),
    ("مُحَمَّد", "محمد"),
    ("王小明", "王 小明"),
    ("ﾏﾔ", "マヤ"),  # half-width and full-width katakana
]
DIFFERENT_KEY = [
    ("王小明", "李华"),
    ("Алёна", "Ольга"),
    ("Ζωή", "Ελένη"),
    ("किरण", "करण"),  # a Devanagari vowel sign spells a different name
    ("ガク", "カク"),  # so does the kana voicing mark
    ("Zoë", "Zoey"),
]


@pytest.mark.parametrize(("a", "b"), SAME_KEY)
def test_spellings_of_one_name_share_a_key(a: str, b: str) -> None:
    assert name_key(a) == name_key(b) != ""


@pytest.mark.parametrize(("a", "b"), DIFFERENT_KEY)
def test_different_names_in_any_script_have_different_keys(a: str, b: str) -> None:
    assert name_key(a)
    assert name_key(b)
    assert name_key(a) != name_key(b)


@pytest.mark.parametrize("value", ["", "   ", "-", "'", "123", "?!", "· —"])
def test_a_name_without_letters_has_an_empty_key(value: str) -> None:
    assert name_key(value) == ""


# ---------------------------------------------------------------------------------------------
# Matching children: (existing child, second intake) -> the same child, a likely match, or new
# ---------------------------------------------------------------------------------------------

MAYA = {"legal_first_name": "Maya", "legal_last_name": "Fletcher", "date_of_birth": DOB}
UPN = "H801200001001"
OTHER_UPN = "A801200001002"

# (case, first intake, second intake, changes to the first child before the second, outcome)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], str]] = [
    ("exact names and date of birth", MAYA, MAYA, {}, "same"),
    (
        "Cyrillic, case and ё",
        {"legal_first_name": "Алёна", "legal_last_name": "Иванова"},
        {"legal_first_name": "АЛЕНА", "legal_last_name": "иванова"},
        {},
        "same",
    ),
    (
        "Cyrillic, two children",
        {"legal_first_name": "Алёна", "legal_last_name": "Иванова"},
        {"legal_first_name": "Ольга", "legal_last_name": "Петрова"},
        {},
        "new",
    ),
    (
        "Cyrillic twins",
        {"legal_first_name": "Алёна", "legal_last_name": "Иванова"},
        {"legal_first_name": "Ольга", "legal_last_name": "Иванова"},
        {},
        "new",
    ),
    (
        "Greek, accents and final sigma",
        {"legal_first_name": "Νικόλαος", "legal_last_name": "Παπαδόπουλος"},
        {"legal_first_name": "ΝΙΚΟΛΑΟΣ", "legal_last_name": "ΠΑΠΑΔΟΠΟΥΛΟΣ"},
        {},
        "same",
    ),
    (
        "Greek, two children",
        {"legal_first_name": "Ζωή", "legal_last_name": "Παπαδοπούλου"},
        {"legal_first_name": "Ελένη", "legal_last_name": "Γεωργίου"},
        {},
        "new",
    ),
    (
        "Arabic with and without vowel marks",
        {"legal_first_name": "مُحَمَّد", "legal_last_name": "الحسن"},
        {"legal_first_name": "محمد", "legal_last_name": "الحسن"},
        {},
        "same",
    ),
    (
        "Arabic, two children",
        {"legal_first_name": "محمد", "legal_last_name": "الحسن"},
        {"legal_first_name": "فاطمة", "legal_last_name": "علي"},
        {},
        "new",
    ),
    (
        "Chinese, the same child",
        {"legal_first_name": "小明", "legal_last_name": "王"},
        {"legal_first_name": "小明", "legal_last_name": "王"},
        {},
        "same",
    ),
    (
        "Chinese, two children",
        {"legal_first_name": "小明", "legal_last_name": "王"},
        {"legal_first_name": "华", "legal_last_name": "李"},
        {},
        "new",
    ),
    (
        "Chinese, name order swapped",
        {"legal_first_name": "小明", "legal_last_name": "王"},
        {"legal_first_name": "王", "legal_last_name": "小明"},
        {},
        "likely",
    ),
    ("Zoë and Zoe", {**MAYA, "legal_first_name": "Zoë"}, {**MAYA, "legal_first_name": "Zoe"}, {}, "same"),
    ("Łukasz and Lukasz", {**MAYA, "legal_first_name": "Łukasz"}, {**MAYA, "legal_first_name": "LUKASZ"}, {}, "same"),
    ("Øyvind and Oyvind", {**MAYA, "legal_first_name": "Øyvind"}, {**MAYA, "legal_first_name": "Oyvind"}, {}, "same"),
    (
        "hyphen or space",
        {**MAYA, "legal_first_name": "Anne-Marie"},
        {**MAYA, "legal_first_name": "Anne Marie"},
        {},
        "same",
    ),
    ("hyphenated surname", MAYA, {**MAYA, "legal_last_name": "Fletcher-Hale"}, {}, "likely"),
    (
        "straight and curly apostrophes",
        {**MAYA, "legal_last_name": "O'Brien"},
        {**MAYA, "legal_last_name": "O’Brien"},
        {},
        "same",
    ),
    ("name order swapped", MAYA, {**MAYA, "legal_first_name": "Fletcher", "legal_last_name": "Maya"}, {}, "likely"),
    ("a digit typed in a name", MAYA, {**MAYA, "legal_first_name": "Maya2"}, {}, "same"),
    ("digits only", {**MAYA, "legal_first_name": "123"}, {**MAYA, "legal_first_name": "123"}, {}, "new"),
    ("punctuation only", {**MAYA, "legal_first_name": "-"}, {**MAYA, "legal_first_name": "-"}, {}, "new"),
    ("punctuation-only surname", {**MAYA, "legal_last_name": "?"}, {**MAYA, "legal_last_name": "."}, {}, "new"),
    ("a former name", MAYA, {**MAYA, "legal_last_name": "Smith"}, {"former_names": ["Maya Jane Smith"]}, "likely"),
    ("UPN, names and date of birth agree", {**MAYA, "upn": UPN}, {**MAYA, "upn": UPN}, {}, "same"),
    (
        "same UPN and date of birth, different names",
        {**MAYA, "upn": UPN},
        {**MAYA, "legal_first_name": "Tom", "legal_last_name": "Baker", "upn": UPN},
        {},
        "likely",
    ),
    (
        "same UPN and names, different date of birth",
        {**MAYA, "upn": UPN},
        {**MAYA, "date_of_birth": date(2014, 6, 17), "upn": UPN},
        {},
        "likely",
    ),
    (
        "same UPN, Chinese names that differ",
        {"legal_first_name": "小明", "legal_last_name": "王", "upn": UPN},
        {"legal_first_name": "华", "legal_last_name": "李", "upn": UPN},
        {},
        "likely",
    ),
    (
        "same UPN, names without letters",
        {**MAYA, "upn": UPN},
        {**MAYA, "legal_first_name": "-", "upn": UPN},
        {},
        "likely",
    ),
    (
        "a former UPN with the same names",
        {**MAYA, "upn": UPN},
        {**MAYA, "upn": OTHER_UPN},
        {"upn": "H801200001999", "former_upns": [OTHER_UPN]},
        "same",
    ),
    ("same names and date of birth, different UPNs", {**MAYA, "upn": UPN}, {**MAYA, "upn": OTHER_UPN}, {}, "likely"),
    ("same names, different date of birth", MAYA, {**MAYA, "date_of_birth": date(2014, 5, 18)}, {}, "new"),
]


def _details(fields: dict[str, Any]) -> ChildDetails:
    return ChildDetails(**{"date_of_birth": DOB, **fields})


def _intake(
    path: str, la: LocalAuthority, school: Any, user: Any, fields: dict[str, Any], hour: int
) -> tuple[int, int]:
    """Run one intake; return (child id, likely matches found)."""
    if path == "child_find_or_create":
        with transaction.atomic():
            details = _details(fields)
            child_identity_lock(la.pk, details.date_of_birth)
            found: ChildFound = child_find_or_create(la_id=la.pk, details=details)
        return found.child.pk, len(found.likely)
    notification = notification_submit(
        data=notification_input(school, user, **{"date_of_birth": DOB, **fields}), as_of=at(hour)
    )
    assert notification.child_id is not None
    return notification.child_id, PossibleMatch.objects.filter(notification=notification).count()


@pytest.mark.parametrize("path", ["child_find_or_create", "notification_submit"])
@pytest.mark.parametrize(("case", "first", "second", "changes", "outcome"), CASES, ids=[c[0] for c in CASES])
def test_matching(
    la: LocalAuthority,
    school: Any,
    school_user: Any,
    path: str,
    case: str,
    first: dict[str, Any],
    second: dict[str, Any],
    changes: dict[str, Any],
    outcome: str,
) -> None:
    known_id, _ = _intake(path, la, school, school_user, first, 9)
    if changes:
        Child.objects.filter(pk=known_id).update(**changes)
    known_before = Child.objects.values().get(pk=known_id)

    child_id, likely = _intake(path, la, school, school_user, second, 10)

    if outcome == "same":
        assert child_id == known_id
        assert Child.objects.count() == 1
        assert likely == 0
    else:
        assert child_id != known_id
        assert Child.objects.count() == 2
        assert likely == (1 if outcome == "likely" else 0)
        # the known child is left as it was: nothing from the second intake reached it
        assert Child.objects.values().get(pk=known_id) == known_before
    if path == "notification_submit":
        matches = PossibleMatch.objects.filter(child_id=child_id, candidate_id=known_id)
        assert matches.count() == (1 if outcome == "likely" else 0)
        assert PossibleMatch.objects.count() == matches.count()


def test_names_are_kept_as_typed(la: LocalAuthority, school: Any, school_user: Any) -> None:
    fields = {"legal_first_name": "Zoë-Алёна", "legal_last_name": "O’Brien 王"}
    child_id, _ = _intake("notification_submit", la, school, school_user, fields, 9)
    child = Child.objects.get(pk=child_id)
    assert (child.legal_first_name, child.legal_last_name) == ("Zoë-Алёна", "O’Brien 王")
    notification = OffRollNotification.objects.get(child=child)
    assert (notification.legal_first_name, notification.legal_last_name) == ("Zoë-Алёна", "O’Brien 王")


def test_a_upn_with_other_names_is_not_linked_or_copied(la: LocalAuthority, school: Any, school_user: Any) -> None:
    chinese = {"legal_first_name": "小明", "legal_last_name": "王", "upn": UPN}
    known_id, _ = _intake("notification_submit", la, school, school_user, chinese, 9)
    other = {"legal_first_name": "华", "legal_last_name": "李", "upn": UPN}

    new_id, _ = _intake("notification_submit", la, school, school_user, other, 10)

    new = Child.objects.get(pk=new_id)
    assert new_id != known_id
    assert new.upn == ""  # the UPN stays with the record that holds it; the notification keeps it
    assert OffRollNotification.objects.get(child=new).upn == UPN
    match = PossibleMatch.objects.get(child=new, candidate_id=known_id)
    assert "same UPN, different names" in match.reasons
    # The same notification again joins the record made for it, and the likely match stays one row.
    again_id, _ = _intake("notification_submit", la, school, school_user, other, 11)
    assert again_id == new_id
    assert Child.objects.count() == 2
    assert PossibleMatch.objects.count() == 1
    assert Child.objects.get(pk=new_id).upn == ""


def test_two_records_with_the_same_names_are_never_guessed_between(
    la: LocalAuthority, school: Any, school_user: Any
) -> None:
    first_id, _ = _intake("notification_submit", la, school, school_user, {**MAYA, "upn": UPN}, 9)
    second_id, _ = _intake("notification_submit", la, school, school_user, {**MAYA, "upn": OTHER_UPN}, 10)
    assert first_id != second_id

    third_id, likely = _intake("notification_submit", la, school, school_user, MAYA, 11)

    assert third_id not in {first_id, second_id}
    assert likely == 2
    assert set(PossibleMatch.objects.filter(child_id=third_id).values_list("candidate_id", flat=True)) == {
        first_id,
        second_id,
    }


def test_children_of_another_la_are_never_matched(
    la: LocalAuthority, other_la: LocalAuthority, school: Any, school_user: Any
) -> None:
    mine, _ = _intake("notification_submit", la, school, school_user, {**MAYA, "upn": UPN}, 9)
    theirs, likely = _intake(
        "notification_submit", other_la, school, school_user, {**MAYA, "upn": UPN, "residence_la": other_la}, 10
    )
    assert mine != theirs
    assert likely == 0
    assert Child.objects.get(pk=theirs).local_authority == other_la
    assert Child.objects.get(pk=theirs).upn == UPN


# ---------------------------------------------------------------------------------------------
# Parents matched within the LA, and siblings
# ---------------------------------------------------------------------------------------------

JOANNE = ParentDetails(first_name="Joanne", last_name="Fletcher", relationship="mother", emergency_phone="07700900123")
SIBLING = {"legal_first_name": "Leo", "date_of_birth": date(2016, 2, 9)}


def _siblings(school: Any, user: Any, first: dict[str, Any], second: dict[str, Any]) -> tuple[Child, Child]:
    one = notification_submit(data=notification_input(school, user, **first), as_of=at(9))
    two = notification_submit(data=notification_input(school, user, **{**SIBLING, **second}), as_of=at(10))
    return Child.objects.get(pk=one.child_id), Child.objects.get(pk=two.child_id)


def _parents(child: Child) -> set[int]:
    return set(ChildPerson.objects.filter(child=child).values_list("person_id", flat=True))


SHARED = [
    ("the same phone, written differently", {"emergency_phone": "+44 (0)7700 900 123"}, {}),
    (
        "the same email, in another case",
        {"emergency_phone": "07700900999", "email": "JO.Fletcher@Example.com"},
        {"email": "jo.fletcher@example.com"},
    ),
    ("the same home", {"emergency_phone": "07700900999"}, {}),
    (
        "names in another script",
        {"first_name": "Жанна", "last_name": "Флетчер"},
        {"first_name": "ЖАННА", "last_name": "Флетчер"},
    ),
]


@pytest.mark.parametrize(("case", "second_parent", "first_parent"), SHARED, ids=[c[0] for c in SHARED])
def test_siblings_share_their_parent(
    school: Any, school_user: Any, case: str, second_parent: dict[str, Any], first_parent: dict[str, Any]
) -> None:
    first = {"parents": (replace(JOANNE, **first_parent),)}
    second: dict[str, Any] = {"parents": (replace(JOANNE, **{**first_parent, **second_parent}),)}
    if case == "the same home":
        second["address_line_1"] = "12, MEADOW LANE"  # the first intake's "12 Meadow Lane", GU1 4AA
    else:  # a different home, so that only the contact under test is shared
        second.update(address_line_1="3 Hill Road", postcode="GU2 7XH")
    maya, leo = _siblings(school, school_user, first, second)

    assert maya.pk != leo.pk
    assert Person.objects.count() == 1
    assert _parents(maya) == _parents(leo) == {Person.objects.get().pk}


def test_siblings_share_both_parents_and_each_is_linked_once(school: Any, school_user: Any) -> None:
    dad = ParentDetails(first_name="Rob", last_name="Fletcher", relationship="father", emergency_phone="07700900456")
    maya, leo = _siblings(school, school_user, {"parents": (JOANNE, dad)}, {"parents": (dad, JOANNE)})

    assert Person.objects.count() == 2
    assert _parents(maya) == _parents(leo)
    assert ChildPerson.objects.count() == 4


NOT_SHARED = [
    (
        "same name, nothing shared",
        {"emergency_phone": "07700900999"},
        {"address_line_1": "3 Hill Road", "postcode": "GU2 7XH"},
    ),
    ("same home, but not living with the child", {"emergency_phone": "07700900999", "lives_with_child": False}, {}),
    ("shared phone, different name", {"first_name": "Joan"}, {}),
    ("shared phone, a name without letters", {"first_name": "-"}, {}),
]


@pytest.mark.parametrize(("case", "parent", "child"), NOT_SHARED, ids=[c[0] for c in NOT_SHARED])
def test_other_families_are_not_linked(
    school: Any, school_user: Any, case: str, parent: dict[str, Any], child: dict[str, Any]
) -> None:
    first_parent = replace(JOANNE, first_name="-") if "without letters" in case else JOANNE
    maya, other = _siblings(
        school, school_user, {"parents": (first_parent,)}, {**child, "parents": (replace(JOANNE, **parent),)}
    )

    assert Person.objects.count() == 2
    assert _parents(maya).isdisjoint(_parents(other))


def test_a_parent_in_another_la_is_never_matched(
    la: LocalAuthority, other_la: LocalAuthority, school: Any, school_user: Any
) -> None:
    maya, other = _siblings(school, school_user, {}, {"residence_la": other_la})

    assert (maya.local_authority, other.local_authority) == (la, other_la)
    assert Person.objects.count() == 2
    assert set(Person.objects.values_list("local_authority", flat=True)) == {la.pk, other_la.pk}
    assert _parents(maya).isdisjoint(_parents(other))


def test_the_case_page_lists_a_sibling_but_nothing_of_another_la(
    la: LocalAuthority, other_la: LocalAuthority, school: Any, school_user: Any
) -> None:
    maya_notice = notification_submit(data=notification_input(school, school_user), as_of=at(9))
    notification_submit(data=notification_input(school, school_user, **SIBLING), as_of=at(10))
    elsewhere = notification_submit(
        data=notification_input(school, school_user, legal_first_name="Ivy", residence_la=other_la), as_of=at(11)
    )
    # Even a person wrongly shared across LAs would not show the other LA's child.
    joanne = Person.objects.get(local_authority=la)
    ChildPerson.objects.create(child_id=elsewhere.child_id, person=joanne, relationship="mother")
    officer = make_user(Role.EHE_OFFICER, la)
    client = Client()
    client.force_login(officer)

    response = client.get(reverse("cases:detail", kwargs={"pk": maya_notice.episode_id}))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Leo Fletcher" in html
    assert "9 February 2016" in html
    assert "Ivy Fletcher" not in html
