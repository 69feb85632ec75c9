"""What intake carries (DESIGN section 3; issue 9 item 6): each parent's own address, the year group
the school gave beside the derived one, one intake record type for every path in, and the
officer's page for the child's contact flags."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from pghistory.models import Events

from ehe_register.models import (
    AccessLog,
    Address,
    Child,
    ChildPerson,
    LocalAuthority,
    OffRollNotification,
    Person,
    User,
)
from ehe_register.roles import Role
from ehe_register.services.children import ChildDetails, ParentDetails, person_address_record
from ehe_register.validators import validate_postcode
from tests.ehe_register.test_portal_forms import PARENT_1_ELSEWHERE, valid_data
from tests.factories import ChildFactory, LocalAuthorityFactory, SchoolFactory, make_episode, make_user
from workflows.models import Episode
from workflows.services.bulk import episodes_import
from workflows.services.intake import Concern, IntakeRecord, SchoolNotice
from workflows.services.new_case import case_open
from workflows.services.submission import notification_submit
from workflows.states import Source, State

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
AS_OF = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)
BLNS: list[str] = json.loads((Path(__file__).resolve().parents[1] / "data" / "blns.json").read_text())

MOTHER = ParentDetails(first_name="Joanne", last_name="Fletcher", relationship="mother", emergency_phone="07700900123")
FATHER = ParentDetails(
    first_name="Łukasz",
    last_name="Kowalski",
    relationship="father",
    emergency_phone="07700900124",
    email="lukasz@example.com",
    lives_with_child=False,
    address_line_1="Flat 2, Rose Court",
    address_town="Woking",
    postcode="GU21 4AA",
)
MAYA = ChildDetails(
    legal_first_name="Maya",
    legal_last_name="Fletcher",
    date_of_birth=date(2014, 5, 17),  # Year 8 in the school year from September 2026
    sex="F",
    upn="H801200001001",
    school_year_group="7",
    address_line_1="12 Meadow Lane",
    address_town="Guildford",
    postcode="GU1 4AA",
    parents=(MOTHER, FATHER),
    sen_status="sen_support",
)


def record_for(la: LocalAuthority, **changes: Any) -> IntakeRecord:
    fields: dict[str, Any] = {
        "source": Source.PARENT,
        "received_on": AS_OF.date(),
        "child": MAYA,
        "reason_code": "philosophical",
        **changes,
    }
    return IntakeRecord(local_authority_id=la.pk, **fields)


# ----------------------------------------------------------------------------------------------
# One intake record type, three paths in


def _through_portal(record: IntakeRecord, la: LocalAuthority) -> Episode:
    school_user = make_user(Role.SCHOOL_USER, la)
    notification = notification_submit(
        data=replace(
            record,
            source=Source.SCHOOL,
            received_on=None,
            opened_by_school=school_user.schools.get(),
            notice=SchoolNotice(
                submitted_by=school_user,
                snapshot={},
                notice_received_on=date(2026, 11, 20),
                removed_from_roll_on=date(2026, 11, 23),
                removal_status="removed",
                ground_confirmed=True,
            ),
        ),
        as_of=AS_OF,
    )
    return Episode.objects.get(pk=notification.episode_id)


def _through_new_case(record: IntakeRecord, la: LocalAuthority) -> Episode:
    return case_open(data=record, actor=make_user(Role.EHE_OFFICER, la), as_of=AS_OF).episode


def _through_import(record: IntakeRecord, la: LocalAuthority) -> Episode:
    [episode] = episodes_import(records=[replace(record, source=Source.IMPORT, state=State.MONITORING)], as_of=AS_OF)
    return episode


IGNORED = {"id", "local_authority", "created_at", "updated_at"}


def _values(instance: Any, ignore: set[str] = IGNORED) -> dict[str, Any]:
    return {
        f.name: getattr(instance, f.attname)
        for f in instance._meta.concrete_fields
        if f.name not in ignore and f.attname.removesuffix("_id") not in ignore
    }


def register_rows(child: Child) -> dict[str, Any]:
    """The child, their addresses, parents and links as stored, without keys or timestamps."""
    links = ChildPerson.objects.filter(child=child).select_related("person").order_by("person__first_name")
    return {
        "child": _values(child),
        "addresses": [_values(a, IGNORED | {"child"}) for a in Address.objects.filter(child=child).order_by("pk")],
        "parents": [{**_values(link.person), **_values(link, IGNORED | {"child", "person"})} for link in links],
    }


def test_the_same_record_gives_the_same_rows_through_every_path_in() -> None:
    paths = [_through_portal, _through_new_case, _through_import]
    rows = []
    for number, path in enumerate(paths):
        la = LocalAuthorityFactory(dfe_code=f"{931 + number}", ons_code=f"E1000003{number}")
        episode = path(record_for(la), la)
        assert episode.received_on == AS_OF.date()
        rows.append(register_rows(episode.child))

    assert rows[0] == rows[1] == rows[2]
    child, parents = rows[0]["child"], rows[0]["parents"]
    assert (child["upn"], child["sen_status"], child["school_year_group"], child["derived_year_group"]) == (
        "H801200001001",
        "sen_support",
        "7",
        8,
    )
    assert [(p["first_name"], p["address_line_1"], p["address_town"], p["postcode"]) for p in parents] == [
        ("Joanne", "", "", ""),
        ("Łukasz", "Flat 2, Rose Court", "Woking", "GU21 4AA"),
    ]
    assert [(a["kind"], a["line_1"], a["postcode"]) for a in rows[0]["addresses"]] == [
        ("current", "12 Meadow Lane", "GU1 4AA")
    ]


def test_an_import_carries_the_facts_of_the_old_record(la: LocalAuthority) -> None:
    school = SchoolFactory(local_authority=la)
    verified = datetime(2026, 10, 1, 11, 0, tzinfo=LONDON)
    [episode] = episodes_import(
        records=[
            record_for(
                la,
                source=Source.TRANSFER,
                state=State.EDUCATION_ENQUIRY,
                opened_by_school=school,
                contacts_verified_at=verified,
                first_contact_at=verified,
                concern=Concern(nature="Recorded by the old system"),
            )
        ],
        as_of=AS_OF,
    )
    after = Episode.objects.get(pk=episode.pk)
    assert (after.state, after.opened_by_school, after.contacts_verified_at, after.first_contact_at) == (
        State.EDUCATION_ENQUIRY,
        school,
        verified,
        verified,
    )
    assert after.concern_at_intake is True


def test_a_record_names_a_known_child_or_describes_one() -> None:
    with pytest.raises(ValueError, match="not both or neither"):
        IntakeRecord(local_authority_id=1, source=Source.IMPORT, child=MAYA, known_child_id=1)
    with pytest.raises(ValueError, match="not both or neither"):
        IntakeRecord(local_authority_id=1, source=Source.IMPORT)


def test_an_import_refuses_a_known_child_of_another_la(la: LocalAuthority, other_la: LocalAuthority) -> None:
    elsewhere = ChildFactory(local_authority=other_la)
    record = IntakeRecord(local_authority_id=la.pk, source=Source.IMPORT, known_child_id=elsewhere.pk)
    with pytest.raises(ValueError, match="not on this local authority's register"):
        episodes_import(records=[record], as_of=AS_OF)
    assert not Episode.objects.exists()


def test_a_known_parents_address_is_not_replaced(la: LocalAuthority) -> None:
    case_open(data=record_for(la), actor=make_user(Role.EHE_OFFICER, la), as_of=AS_OF)
    person = Person.objects.get(first_name="Łukasz")

    person_address_record(person, replace(FATHER, address_line_1="9 New Road", postcode="KT1 1AA"))

    person.refresh_from_db()
    assert (person.address_line_1, person.postcode) == ("Flat 2, Rose Court", "GU21 4AA")


# ----------------------------------------------------------------------------------------------
# The school's year group beside the derived one


@pytest.mark.parametrize(
    ("given", "disagree"),
    [("8", False), ("7", True), ("reception", True), ("other", True), ("", False)],
)
def test_the_schools_year_group_is_kept_and_a_disagreement_flagged(
    la: LocalAuthority, given: str, disagree: bool
) -> None:
    record = replace(record_for(la), child=replace(MAYA, school_year_group=given))
    child = case_open(data=record, actor=make_user(Role.EHE_OFFICER, la), as_of=AS_OF).episode.child
    child.refresh_from_db()
    assert child.school_year_group == given
    assert child.derived_year_group == (8 if given else None)
    assert child.school_year_group_on == (AS_OF.date() if given else None)
    assert child.year_groups_disagree is disagree


def test_other_agrees_with_a_child_outside_reception_to_year_11(la: LocalAuthority) -> None:
    child = ChildFactory(local_authority=la, school_year_group="other", derived_year_group=12)
    assert child.year_groups_disagree is False


def test_the_case_page_shows_both_year_groups_and_the_disagreement(la: LocalAuthority) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    episode = case_open(data=record_for(la), actor=officer, as_of=AS_OF).episode
    client = Client()
    client.force_login(officer)
    with time_machine.travel(datetime(2026, 11, 25, 9, 0, tzinfo=LONDON)):
        html = client.get(reverse("cases:detail", args=[episode.pk])).content.decode()
    assert "Year 8 (from the date of birth)" in html
    assert "Year 7 on 24 November 2026 (the date of birth gives Year 8 on that day)" in html
    assert "Does not match the date of birth" in html
    # The father's own address, and the mother at the child's.
    assert "Flat 2, Rose Court<br>Woking<br>GU21 4AA" in html
    assert '<td class="govuk-table__cell">The child\'s address</td>' in html


# ----------------------------------------------------------------------------------------------
# The portal: a parent at another address


@pytest.fixture
def school_client(la: LocalAuthority) -> Client:
    client = Client()
    client.force_login(make_user(Role.SCHOOL_USER, la))
    return client


def test_the_portal_asks_for_a_parents_own_address(school_client: Client, la: LocalAuthority) -> None:
    with time_machine.travel(datetime(2026, 3, 3, 11, 0, tzinfo=LONDON), tick=True):
        answers = valid_data(la, **{**PARENT_1_ELSEWHERE, "parent_1_postcode": "nonsense", "parent_1_address_town": ""})
        page = school_client.post(reverse("schools:notify"), answers)
        html = page.content.decode()
        assert page.status_code == 200
        assert '<a href="#id_parent_1_postcode">Enter a real postcode, like SW1A 1AA</a>' in html
        assert '<a href="#id_parent_1_address_town">Enter town or city for parent or carer 1</a>' in html
        assert 'id="id_parent_1_postcode_error"' in html
        assert 'id="id_parent_1_address_town_error"' in html
        assert not Person.objects.exists()

        answers = valid_data(la, **PARENT_1_ELSEWHERE)
        assert school_client.post(reverse("schools:notify"), answers).status_code == 302
        check = school_client.get(reverse("schools:check_answers")).content.decode()
        assert "Lives at the child&#x27;s home address" in check
        assert "3 Station Road<br>Epsom<br>KT17 1AA" in check
        assert school_client.post(reverse("schools:check_answers")).status_code == 302

    person = Person.objects.get()
    assert (person.first_name, person.address_line_1, person.address_town, person.postcode) == (
        "Anne",
        "3 Station Road",
        "Epsom",
        "KT17 1AA",
    )
    child = Child.objects.get()
    assert (child.school_year_group, child.derived_year_group) == ("6", 6)


def test_hostile_strings_in_a_parents_address_over_http(
    school_client: Client, la: LocalAuthority, settings: Any
) -> None:
    settings.EHE_NOTIFICATIONS_PER_HOUR = 1000
    keys = ["parent_1_address_line_1", "parent_1_address_line_2", "parent_1_address_town", "parent_1_postcode"]
    sent = 0
    with time_machine.travel(datetime(2026, 3, 3, 11, 0, tzinfo=LONDON), tick=True):
        for number, hostile in enumerate(random.Random(9).sample(BLNS, 32)):
            key = keys[number % len(keys)]
            people = Person.objects.count()
            # A different child each time (born on another day), so each notification adds its parent.
            born = {"date_of_birth_day": str(number % 28 + 1), "date_of_birth_month": str(number // 28 + 1)}
            # And a parent of another family (matching would otherwise link the same parent again).
            family = {
                "parent_1_last_name": "Parent" + "".join(chr(97 + d) for d in divmod(number, 26)),
                "parent_1_emergency_phone": f"07700 900{number:03d}",
                "parent_1_email": f"p{number}@example.org",
            }
            answers = valid_data(la, **{**PARENT_1_ELSEWHERE, **born, **family, key: hostile})
            response = school_client.post(reverse("schools:notify"), answers)
            assert response.status_code in (200, 302), (key, hostile)
            if response.status_code == 200:
                assert "There is a problem" in response.content.decode(), (key, hostile)
                assert Person.objects.count() == people
                continue
            assert school_client.get(reverse("schools:check_answers")).status_code == 200, (key, hostile)
            assert school_client.post(reverse("schools:check_answers")).status_code == 302, (key, hostile)
            child = OffRollNotification.objects.latest("submitted_at").child
            person = Person.objects.get(child_links__child=child)
            field = key.removeprefix("parent_1_")
            expected = validate_postcode(hostile) if field == "postcode" else hostile.strip()
            assert getattr(person, field) == expected, (key, hostile)
            sent += 1
    assert sent > 0


# ----------------------------------------------------------------------------------------------
# The officer's page for the child's contact flags


@pytest.fixture
def case(la: LocalAuthority) -> Episode:
    return make_episode(State.ADDRESS_VERIFICATION, la=la)


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_details(client: Client, episode: Episode, version: int | None = None, **changes: str) -> Any:
    data = {
        "confidential_address": "yes",
        "interpreter_needed": "yes",
        "language": "Polish",
        "contact_preferences": "Email only",
        "version": str(episode.version if version is None else version),
        **changes,
    }
    return client.post(reverse("cases:child_details", args=[episode.pk]), data)


@pytest.mark.parametrize("role", [Role.EHE_OFFICER, Role.EHE_MANAGER])
def test_an_officer_changes_the_childs_contact_flags(la: LocalAuthority, case: Episode, role: Role) -> None:
    officer = make_user(role, la, first_name="Priya", last_name="Shah")
    client = client_of(officer)
    page = client.get(reverse("cases:child_details", args=[case.pk]))
    assert page.status_code == 200
    assert "Is the child&#x27;s address confidential?" in page.content.decode()
    assert AccessLog.objects.filter(user=officer, child=case.child).exists()

    response = post_details(client, case)

    assert response.status_code == 302
    assert response["Location"] == reverse("cases:detail", args=[case.pk])
    child = Child.objects.get(pk=case.child_id)
    assert (child.confidential_address, child.interpreter_needed, child.language, child.contact_preferences) == (
        True,
        True,
        "Polish",
        "Email only",
    )
    after = Episode.objects.get(pk=case.pk)
    assert (after.version, after.last_changed_by) == (case.version + 1, officer)

    [event] = [
        e
        for e in Events.objects.tracks(child).filter(pgh_label="update")
        if "confidential_address" in (e.pgh_diff or {})
    ]
    assert event.pgh_diff["confidential_address"] == [False, True]
    assert event.pgh_context["user"] == officer.pk

    html = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "Child&#x27;s contact details changed" in html
    assert "Confidential address: No to Yes" in html
    assert "Interpreter needed: No to Yes" in html
    assert "Language: Not given to Polish" in html
    assert "Priya Shah" in html
    assert "Confidential address: never share with schools." in html


def test_saving_without_a_change_writes_nothing(la: LocalAuthority, case: Episode) -> None:
    client = client_of(make_user(Role.EHE_OFFICER, la))
    response = post_details(
        client, case, confidential_address="no", interpreter_needed="no", language="", contact_preferences=""
    )
    assert response.status_code == 302
    assert Episode.objects.get(pk=case.pk).version == case.version
    assert not Events.objects.tracks(case.child).filter(pgh_label="update").exists()


def test_an_interpreter_needs_a_language(la: LocalAuthority, case: Episode) -> None:
    response = post_details(client_of(make_user(Role.EHE_OFFICER, la)), case, language="  ")
    html = response.content.decode()
    assert response.status_code == 400
    assert '<a href="#id_language">Enter the language the family needs an interpreter for</a>' in html
    assert Child.objects.get(pk=case.child_id).confidential_address is False


@pytest.mark.parametrize("role", [Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER, Role.AUDITOR, Role.HEAD_OF_SERVICE])
def test_other_roles_cannot_change_them(la: LocalAuthority, case: Episode, role: Role) -> None:
    client = client_of(make_user(role, la))
    assert client.get(reverse("cases:child_details", args=[case.pk])).status_code == 403
    assert post_details(client, case).status_code == 403
    assert Child.objects.get(pk=case.child_id).confidential_address is False


def test_another_las_officer_gets_not_found(other_la: LocalAuthority, case: Episode) -> None:
    client = client_of(make_user(Role.EHE_OFFICER, other_la))
    assert client.get(reverse("cases:child_details", args=[case.pk])).status_code == 404
    assert post_details(client, case).status_code == 404
    assert Child.objects.get(pk=case.child_id).confidential_address is False


def test_a_stale_form_is_refused_naming_who_changed_the_case(la: LocalAuthority, case: Episode) -> None:
    first = make_user(Role.EHE_OFFICER, la, first_name="Priya", last_name="Shah")
    second = client_of(make_user(Role.EHE_OFFICER, la))
    seen = case.version
    with time_machine.travel(datetime(2026, 11, 24, 14, 5, tzinfo=LONDON)):
        assert (
            post_details(client_of(first), case, version=seen, contact_preferences="Phone after 5pm").status_code == 302
        )

    response = post_details(second, case, version=seen, confidential_address="no", contact_preferences="Letters only")

    assert response.status_code == 409
    assert "This case was changed by Priya Shah at 14:05. Reload to see the change." in response.content.decode()
    child = Child.objects.get(pk=case.child_id)
    assert (child.confidential_address, child.contact_preferences) == (True, "Phone after 5pm")


def test_hostile_strings_in_the_contact_flags(la: LocalAuthority, case: Episode) -> None:
    client = client_of(make_user(Role.EHE_OFFICER, la))
    saved = 0
    for number, hostile in enumerate(BLNS):
        field = "language" if number % 2 else "contact_preferences"
        before = Child.objects.get(pk=case.child_id)
        version = Episode.objects.get(pk=case.pk).version
        response = post_details(client, case, version=version, **{field: hostile})
        assert response.status_code in (302, 400), (field, hostile)
        after = Child.objects.get(pk=case.child_id)
        if response.status_code == 400:
            assert _values(after) == _values(before), (field, hostile)
            assert Episode.objects.get(pk=case.pk).version == version
            continue
        assert getattr(after, field) == hostile.strip(), (field, hostile)
        saved += 1
    assert 0 < saved < len(BLNS)
