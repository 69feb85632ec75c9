"""The CTF parser: pupils leaving for home education, read from files built to the documented
structure; every bad file refused with a plain message; hostile values never crash it."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ehe_register.models import Relationship, SenStatus, Sex, SocialCareStatus
from imports.formats import BadFile
from imports.formats.base import ParsedRow
from imports.formats.ctf import ctf_parse
from tests.factories import SchoolFactory
from tests.imports.ctf_files import LINES_ADDRESS, Contact, Pupil, ctf
from workflows.services.intake import intake_child, intake_episode_open
from workflows.states import Source, State

BLNS: list[str] = json.loads((Path(__file__).resolve().parents[1] / "data" / "blns.json").read_text())
TODAY = date(2026, 12, 1)


@pytest.fixture
def school(la):
    return SchoolFactory(local_authority=la, establishment_number="4001", name="Ashcombe School", urn="125300")


def parse(data: bytes, la, **kwargs) -> list[ParsedRow]:
    return list(ctf_parse(io.BytesIO(data), local_authority=la, file_name="ctf.xml", today=TODAY, **kwargs))


def test_pupils_become_school_notifications_with_bs7666_and_line_addresses(la, school) -> None:
    second = Pupil(
        forename="Zoë",
        surname="Nowak-Ó Briain",
        sex="M",
        sex_element="Gender",
        upn="",
        address_xml=LINES_ADDRESS,
        sen="E",
        in_care="true",
        contacts=[
            Contact(forename="Doctor", surname="Who", relationship="OTH", responsibility="false", order="1"),
            Contact(
                forename="Piotr", surname="Nowak", relationship="PAR", sex="M", order="2", phones=("+44 7700 900456",)
            ),
        ],
    )
    rows = parse(ctf([Pupil(), second]), la)

    assert [(r.row, r.label, r.errors) for r in rows] == [(1, "Pupil 1", ()), (2, "Pupil 2", ())]
    first, other = rows[0].record, rows[1].record
    assert first is not None
    assert other is not None
    assert first.source == Source.SCHOOL
    assert first.opened_by_school == school
    assert first.local_authority_id == la.pk
    assert first.source_detail == "Common Transfer File from Ashcombe School, ctf.xml, pupil 1"
    assert first.special_school_placed_by_la is False
    child = first.child
    assert (child.legal_first_name, child.legal_last_name, child.legal_middle_names) == ("Amara", "Okafor", "Grace")
    assert (child.date_of_birth, child.sex, child.upn) == (date(2014, 3, 27), Sex.FEMALE, "H801200001001")
    assert (child.address_line_1, child.address_line_2, child.address_town, child.postcode) == (
        "Flat 2, 14 Church Street",
        "Ashtead",
        "Leatherhead",
        "KT21 1AA",
    )
    assert child.school_year_group == "6"
    (mother,) = child.parents
    assert (mother.first_name, mother.relationship, mother.emergency_phone) == (
        "Sarah",
        Relationship.MOTHER,
        "07700900123",
    )
    assert mother.lives_with_child is True

    kid = other.child
    assert (kid.legal_first_name, kid.legal_last_name, kid.sex) == ("Zoë", "Nowak-Ó Briain", Sex.MALE)
    assert (kid.address_line_1, kid.address_line_2, kid.address_town, kid.postcode) == (
        "3 Mill Lane",
        "Shere",
        "Guildford",
        "GU5 9HB",
    )
    assert kid.sen_status == SenStatus.EHCP
    assert kid.social_care_status == SocialCareStatus.LOOKED_AFTER
    # Only contacts with parental responsibility are parents; the doctor is not.
    assert [(p.first_name, p.relationship, p.emergency_phone) for p in kid.parents] == [
        ("Piotr", Relationship.FATHER, "07700900456")
    ]


def test_a_record_goes_through_the_intake_path_and_a_special_school_pupil_waits_for_consent(la) -> None:
    SchoolFactory(local_authority=la, establishment_number="7103", is_special=True, name="Earlswood Brook School")
    (row,) = parse(ctf([Pupil()], estab="7103", school_name="Earlswood Brook School"), la)
    assert row.record is not None
    assert row.record.special_school_placed_by_la is True

    as_of = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/London"))
    found = intake_child(row.record, as_of=as_of)
    episode = intake_episode_open(row.record, found.child, as_of=as_of)
    assert episode.state == State.AWAITING_CONSENT
    assert episode.source == Source.SCHOOL
    assert found.child.legal_first_name == "Amara"


@pytest.mark.parametrize("version", ["24.0", "25.0", "26.0", "25"])
def test_versions_in_use_are_read(la, school, version) -> None:
    (row,) = parse(ctf([Pupil()], version=version), la)
    assert row.ok


def test_a_namespaced_file_is_read(la, school) -> None:
    (row,) = parse(ctf([Pupil()], root_attrs=' xmlns="urn:example:ctf"'), la)
    assert row.ok


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            lambda: ctf([Pupil()], version="22.0"),
            "The file's CTF version is 22.0: this service reads CTF versions 24, 25, 26",
        ),
        (
            lambda: ctf([Pupil()], source_la="938", school_name="Ifield School"),
            "This CTF comes from Ifield School in local authority 938, not from a school of Surrey (936)",
        ),
        (lambda: ctf([Pupil()], estab="9999"), "is not in the schools list. Load the latest GIAS schools extract"),
        (
            lambda: ctf([Pupil()], dest=("936", "4002")),
            "This CTF sends its pupils to school 936/4002, so they are moving school",
        ),
        (lambda: ctf([]), "The file has no pupils"),
        (lambda: b"<ATfile><Header/></ATfile>", "This is not a Common Transfer File: its first element is ATfile"),
        (lambda: b"<CTfile><Header><CTFversion>25</CTFversion>", "The file is not well-formed XML"),
        (lambda: b"\xff\xfe\x00not xml", "The file is not well-formed XML"),
        (lambda: b"", "The file is not well-formed XML"),
        (lambda: b"<CTfile><CTFpupilData><Pupil/></CTFpupilData></CTfile>", "The file's pupils come before its Header"),
    ],
)
def test_bad_files_are_refused_with_a_plain_message(la, school, data, message) -> None:
    with pytest.raises(BadFile) as refused:
        parse(data(), la)
    assert message in str(refused.value)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<CTfile><Header><SchoolName>&lol4;</SchoolName></Header></CTfile>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE CTfile [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<CTfile><Header><SchoolName>&secret;</SchoolName></Header></CTfile>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE CTfile SYSTEM "http://example.com/ctf.dtd">
<CTfile/>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD], ids=["bomb", "entity", "dtd"])
def test_xml_bombs_external_entities_and_dtds_are_refused(la, school, data) -> None:
    with pytest.raises(BadFile) as refused:
        parse(data, la)
    assert "declares a document type (DTD)" in str(refused.value)


def test_a_pupil_with_problems_gets_plain_messages_naming_the_elements(la, school) -> None:
    bad = Pupil(
        upn="Z801200001001",
        surname="",
        dob="2014-02-30",
        sex="X",
        contacts=[Contact(phones=("12345",))],
        address_xml=(
            "<Address><AddressLines><AddressLine1>1 High St</AddressLine1></AddressLines>"
            "<PostCode>NOPE</PostCode></Address>"
        ),
    )
    no_parent = Pupil(contacts=[Contact(responsibility="false")])
    rows = parse(ctf([Pupil(), bad, no_parent]), la)

    assert rows[0].ok
    assert rows[1].row == 2
    assert rows[1].record is None
    assert {(e.column, e.message) for e in rows[1].errors} == {
        ("Surname", "Enter the child's legal last name"),
        ("DOB", "Date of birth must be a real date, like 2014-03-27"),
        ("Sex", "Sex must be M (male), F (female) or U (not known)"),
        ("UPN", "UPN invalid (wrong check letter at character 1)"),
        ("Address", "Enter town or city"),
        ("Address/PostCode", "Enter a real postcode, like SW1A 1AA"),
        ("Contacts/Contact[1]/Phones/Phone/PhoneNo", "Enter a UK phone number, like 01632 960 001 or 07700 900 982"),
    }
    assert [(e.column, e.message) for e in rows[2].errors] == [
        ("Contacts", "Enter at least one parent or carer with an emergency phone number")
    ]


def test_a_parent_living_elsewhere_keeps_their_own_address(la, school) -> None:
    father = Contact(forename="Tom", sex="M", address_xml=LINES_ADDRESS.replace("GU5 9HB", "GU1 1AA"))
    (row,) = parse(ctf([Pupil(contacts=[father])]), la)
    (parent,) = row.record.child.parents
    assert (parent.lives_with_child, parent.address_line_1, parent.address_town, parent.postcode) == (
        False,
        "3 Mill Lane",
        "Guildford",
        "GU1 1AA",
    )


def _xml_safe(value: str) -> bool:
    return all(ord(c) >= 0x20 or c in "\t\n\r" for c in value) and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


@pytest.mark.parametrize("element", ["forename", "surname", "upn", "dob", "sex", "middle_names", "year"])
def test_hostile_strings_as_values_give_a_record_or_plain_errors(la, school, element) -> None:
    """Every string of the big list of naughty strings in one element of its own pupil: each pupil
    gives a record or plain errors, and nothing escapes. Strings XML cannot hold at all (control
    characters) are left out: no XML file can carry them."""
    strings = [s for s in BLNS if _xml_safe(s)]
    pupils = [Pupil(**{element: s}) for s in strings]
    rows = parse(ctf(pupils), la)
    assert len(rows) == len(strings)
    for row in rows:
        assert (row.record is None) == bool(row.errors)
        assert all(isinstance(e.message, str) and e.message for e in row.errors)


def test_hostile_strings_in_contacts_and_header_names(la, school) -> None:
    strings = [s for s in BLNS if _xml_safe(s)]
    pupils = [Pupil(contacts=[Contact(forename=s, phones=(s,), email=s)]) for s in strings]
    rows = parse(ctf(pupils, school_name=strings[-1]), la)
    assert len(rows) == len(strings)
