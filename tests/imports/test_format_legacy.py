"""An existing EHE register: the column-mapping step (saved per LA), rows read into import records
carrying their cases, entering through the ``imported`` transition with their log and origin."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ehe_register.models import Relationship, SenStatus
from ehe_register.roles import Role
from imports.formats.legacy import (
    LEGACY_FIELDS,
    column_mapping_get,
    column_mapping_save,
    legacy_parse,
    mapping_check,
    mapping_suggest,
)
from imports.forms_mapping import ColumnMappingForm
from imports.models import ColumnMapping
from tests.factories import make_user
from tests.imports.legacy_files import COLUMNS, HEADINGS, register_row
from workflows.models import Episode, TransitionLog
from workflows.services.bulk import episodes_import
from workflows.states import Source, State

BLNS: list[str] = json.loads((Path(__file__).resolve().parents[1] / "data" / "blns.json").read_text())
TODAY = date(2026, 12, 1)
AS_OF = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("Europe/London"))


def parse(rows, la, columns=COLUMNS):
    return list(
        legacy_parse(
            ((n, r) for n, r in enumerate(rows, start=2)),
            columns=columns,
            local_authority=la,
            file_name="register.xlsx",
            today=TODAY,
        )
    )


# The mapping step


def test_mapping_is_suggested_from_the_councils_own_headings() -> None:
    assert mapping_suggest(HEADINGS) == COLUMNS


def test_a_saved_mapping_comes_first_where_the_file_still_has_the_column() -> None:
    saved = {**COLUMNS, "legal_first_name": "Notes", "upn": "Pupil number"}
    suggested = mapping_suggest(HEADINGS, saved)
    assert suggested["legal_first_name"] == "Notes"
    assert "upn" not in suggested  # the saved column is not in this file


def test_mapping_problems_are_named_by_field() -> None:
    columns = {**COLUMNS, "postcode": "", "address_town": "Town name", "parent_phone": "Surname"}
    assert mapping_check(columns, HEADINGS) == {
        "address_town": "The file has no column called Town name",
        "postcode": "Choose the column that holds the postcode",
        "parent_phone": "Surname is already chosen for legal last name",
    }
    assert mapping_check(COLUMNS, HEADINGS) == {}


def test_the_mapping_form_offers_the_files_columns_and_checks_the_choice() -> None:
    good = ColumnMappingForm({**COLUMNS}, headings=HEADINGS)
    assert good.is_valid(), good.errors
    assert good.columns() == COLUMNS
    assert set(good.fields) == set(LEGACY_FIELDS)

    bad = ColumnMappingForm({**COLUMNS, "state": "", "upn": "No such column"}, headings=HEADINGS)
    assert not bad.is_valid()
    assert bad.errors["state"] == ["Choose the column that holds the state of the case"]
    assert bad.errors["upn"] == ["Choose one of the file's columns"]


def test_the_mapping_is_saved_per_local_authority_for_next_time(la, other_la) -> None:
    manager = make_user(Role.EHE_MANAGER, la)
    assert column_mapping_get(local_authority=la) == {}
    column_mapping_save(local_authority=la, columns={**COLUMNS, "upn": ""}, actor=manager, as_of=AS_OF)
    column_mapping_save(local_authority=la, columns=COLUMNS, actor=manager, as_of=AS_OF)

    assert column_mapping_get(local_authority=la) == COLUMNS
    assert column_mapping_get(local_authority=other_la) == {}
    saved = ColumnMapping.objects.get()
    assert (saved.kind, saved.saved_by, saved.saved_at) == (ColumnMapping.Kind.LEGACY_REGISTER, manager, AS_OF)


# The rows and the import


def test_rows_become_import_records_carrying_their_cases(la) -> None:
    officer = make_user(Role.EHE_OFFICER, la, first_name="Priya", last_name="Shah", email="priya.shah@example.org")
    rows = parse(
        [
            register_row(Officer="Priya Shah"),
            register_row(
                Ref="",
                Forename="Tomasz",
                Surname="Wiśniewski",
                Gender="M",
                DOB=date(2012, 1, 9),
                Status="s437_notice",
                Officer="PRIYA.SHAH@example.org",
                **{"Review date": "", "Date verified": ""},
            ),
        ],
        la,
        columns={**COLUMNS, "s437_served_on": "Notes"},
    )
    assert rows[0].errors == ()
    first = rows[0].record
    assert first is not None
    assert first.source == Source.IMPORT
    assert first.state == State.MONITORING
    assert first.assigned_officer_id == officer.pk
    assert first.review_due_on == date(2027, 3, 15)
    assert first.contacts_verified_at == datetime(2026, 10, 2, tzinfo=ZoneInfo("Europe/London"))
    assert first.source_detail == "Existing register, register.xlsx, row 2, reference EHE/2019/041"
    child = first.child
    assert (child.legal_first_name, child.legal_last_name, child.date_of_birth) == (
        "Siobhán",
        "O'Connor-Nguyễn",
        date(2014, 3, 27),
    )
    assert child.sen_status == SenStatus.NONE
    assert [(p.first_name, p.relationship, p.emergency_phone) for p in child.parents] == [
        ("Aoife", Relationship.MOTHER, "07700900123")
    ]
    assert [(e.column, e.message) for e in rows[1].errors] == [
        ("Notes", "A section 437 notice or school attendance order case needs the date the notice was served")
    ]


def test_imported_cases_enter_through_the_imported_transition_with_their_log(la) -> None:
    officer = make_user(Role.EHE_OFFICER, la, first_name="Priya", last_name="Shah")
    columns = {**COLUMNS, "s437_served_on": "Notes"}
    rows = parse(
        [
            register_row(Officer="Priya Shah"),
            register_row(
                Forename="Tomasz", Surname="Wiśniewski", Status="Section 437 notice served", Notes="01/11/2026"
            ),
            register_row(Forename="Ada", Surname="Lovelace", Status="Education enquiry", **{"Review date": ""}),
        ],
        la,
        columns=columns,
    )
    records = [r.record for r in rows]
    assert all(records), [r.errors for r in rows]

    episodes = episodes_import(records=records, as_of=AS_OF, reason="Existing register, register.xlsx")

    assert [(e.state, e.source) for e in episodes] == [
        (State.MONITORING, Source.IMPORT),
        (State.S437_NOTICE, Source.IMPORT),
        (State.EDUCATION_ENQUIRY, Source.IMPORT),
    ]
    monitoring = Episode.objects.get(pk=episodes[0].pk)
    assert monitoring.assigned_officer == officer
    assert monitoring.review_due_on == date(2027, 3, 15)
    assert monitoring.source_detail == "Existing register, register.xlsx, row 2, reference EHE/2019/041"
    assert Episode.objects.get(pk=episodes[1].pk).s437_served_on == date(2026, 11, 1)
    logs = list(TransitionLog.objects.filter(episode__in=episodes).order_by("episode_id"))
    assert [(log.transition, log.from_state, log.to_state, log.reason) for log in logs] == [
        ("imported", State.NOTIFIED, State.MONITORING, "Existing register, register.xlsx"),
        ("imported", State.NOTIFIED, State.S437_NOTICE, "Existing register, register.xlsx"),
        ("imported", State.NOTIFIED, State.EDUCATION_ENQUIRY, "Existing register, register.xlsx"),
    ]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"Status": "Closed"}, [("Status", "Only open cases are imported: closed cases stay in the old register")]),
        ({"Status": "Notified"}, [("Status", "A case not yet risk-checked is imported as a new notification")]),
        ({"Status": "Pending"}, [("Status", "State must be one of: Safeguarding review, Awaiting consent decision")]),
        ({"Status": ""}, [("Status", "Enter the state of the case")]),
        ({"Review date": ""}, [("Review date", "A case in monitoring or review due needs its review due date")]),
        ({"Review date": "31/02/2027"}, [("Review date", "Review due date must be a real date, like 27/03/2014")]),
        (
            {"Date verified": "01/01/2027"},
            [("Date verified", "Date contacts were last verified must be today or in the past")],
        ),
        ({"Officer": "Nobody Here"}, [("Officer", "No active EHE officer or manager of this council has that name")]),
        (
            {"Officer": "alex@example.org"},
            [("Officer", "No active EHE officer or manager of this council has that email")],
        ),
        (
            {"Officer": "Sam Jones"},
            [("Officer", "Two officers have that name: give the officer's email address instead")],
        ),
        ({"Postcode": "KT21"}, [("Postcode", "Enter a real postcode, like SW1A 1AA")]),
        ({"Phone": ""}, [("Phone", "Enter an emergency phone number for the parent or carer")]),
        (
            {"Forename": "", "DOB": "2030-01-01"},
            [("Forename", "Enter the child's legal first name"), ("DOB", "Date of birth must be in the past")],
        ),
    ],
)
def test_a_row_with_problems_gets_plain_messages_naming_its_columns(la, other_la, overrides, expected) -> None:
    make_user(Role.EHE_OFFICER, la, first_name="Sam", last_name="Jones")
    make_user(Role.EHE_MANAGER, la, first_name="Sam", last_name="Jones")
    make_user(Role.EHE_OFFICER, other_la, first_name="Nobody", last_name="Here")  # another LA's officer
    make_user(Role.AUDITOR, la, email="alex@example.org")  # not an officer
    (row,) = parse([register_row(**overrides)], la)
    assert row.record is None
    assert row.row == 2
    assert len(row.errors) == len(expected)
    for error, (where, start) in zip(row.errors, expected, strict=True):
        assert error.column == where
        assert error.message.startswith(start)


@pytest.mark.parametrize("heading", [h for h in HEADINGS if h != "Notes"])
def test_hostile_strings_as_values_give_a_record_or_plain_errors_and_import_cleanly(la, heading) -> None:
    """Every string of the big list of naughty strings in one column of its own row: each row is a
    record or plain errors, and the records import without a database error."""
    rows = parse(
        [
            register_row(**{"DOB": date(2012, 1, 1) + timedelta(days=n), "Ref": f"R{n}", heading: value})
            for n, value in enumerate(BLNS)
        ],
        la,
    )
    assert len(rows) == len(BLNS)
    for row in rows:
        assert (row.record is None) == bool(row.errors)
        assert all(e.message for e in row.errors)
    records = [r.record for r in rows if r.record is not None]
    if heading in STORED_AS_GIVEN:
        # Each valid row is a different child (its own date of birth): every one imports, as given
        # (the other columns hold codes, dates or numbers: a hostile value there is an error).
        assert len(records) > 400
        episodes = episodes_import(records=records, as_of=AS_OF, reason="hostile strings")
        assert len(episodes) == len(records)
        assert {e.child.legal_first_name for e in episodes} >= {r.child.legal_first_name for r in records}


STORED_AS_GIVEN = ("Forename", "Address")
