"""The import pipeline with the bulk off-roll notifications format: preview, confirm, re-import,
row errors, likely matches, every bad file, hostile strings, and the command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command

from ehe_register.models import Child, LocalAuthority, OffRollNotification, PossibleMatch, School, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON
from imports.formats import BadFile
from imports.models import BatchStatus, ImportBatch
from imports.services import AlreadyImported, batch_confirm, batch_preview, checked_rows_kept
from tests.factories import ChildFactory, SchoolFactory, make_user
from tests.imports.notification_files import HEADINGS, csv_bytes, row, xlsx_bytes
from workflows.models import Episode, TransitionLog
from workflows.states import State

BLNS = Path(__file__).resolve().parents[1] / "data" / "blns.json"


@pytest.fixture(autouse=True)
def on_a_monday(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.EHE_IMPORT_DIR = str(tmp_path / "imports")
    with time_machine.travel(datetime(2026, 2, 2, 10, tzinfo=LONDON), tick=True):
        yield


@pytest.fixture
def school(la: LocalAuthority) -> School:
    return SchoolFactory(local_authority=la, urn="125001")


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la)


def preview(user: User, content: bytes, name: str = "notifications.csv") -> ImportBatch:
    return batch_preview(user=user, kind="notifications", file_name=name, chunks=iter([content]))


def register_size() -> tuple[int, int, int, int]:
    return (
        Child.objects.count(),
        Episode.objects.count(),
        OffRollNotification.objects.count(),
        TransitionLog.objects.count(),
    )


@pytest.mark.django_db
def test_the_preview_writes_nothing_and_confirming_writes_every_valid_row(officer: User, school: School) -> None:
    content = csv_bytes([row(school.urn, n) for n in range(5)] + [row(school.urn, 9, upn="Z801200001001")])

    batch = preview(officer, content)

    assert register_size() == (0, 0, 0, 0)
    assert (batch.status, batch.rows_total, batch.new_count, batch.error_count) == (BatchStatus.PREVIEWED, 6, 5, 1)
    batch = batch_confirm(batch_id=batch.pk, user=officer)
    assert batch.status == BatchStatus.DONE
    assert (batch.new_count, batch.error_count, batch.rows_done) == (5, 1, 6)
    assert Child.objects.count() == 5
    assert set(Episode.objects.values_list("state", flat=True)) == {State.ADDRESS_VERIFICATION}
    assert OffRollNotification.objects.filter(submitted_by=officer, school=school).count() == 5
    (error,) = batch.row_errors.all()
    assert (error.row_number, error.column) == (7, "upn")
    assert "wrong check letter" in error.message


@pytest.mark.django_db
def test_the_same_file_again_changes_nothing_and_says_so(officer: User, school: School) -> None:
    content = csv_bytes([row(school.urn, n) for n in range(3)])
    batch_confirm(batch_id=preview(officer, content).pk, user=officer)
    before = register_size()

    with pytest.raises(AlreadyImported, match="already imported on 2 February 2026"):
        preview(officer, content)

    assert register_size() == before
    # The same rows in another file (a different hash) are recognised row by row.
    again = preview(officer, content + b"\n")
    assert (again.unchanged_count, again.new_count) == (3, 0)
    batch_confirm(batch_id=again.pk, user=officer)
    assert register_size() == before


@pytest.mark.django_db
def test_each_row_error_names_its_row_column_and_problem(officer: User, school: School) -> None:
    rows = [
        row(school.urn, 0),
        row(school.urn, 1, legal_first_name=""),
        row(school.urn, 2, date_of_birth="2030-01-01"),
        row(school.urn, 3, date_of_birth="31 February"),
        row(school.urn, 4, postcode="not a postcode"),
        row("999999", 5),
        row(school.urn, 6, safeguarding_concerns="yes"),
        row(school.urn, 0),  # the first child again
    ]
    batch = batch_confirm(batch_id=preview(officer, csv_bytes(rows)).pk, user=officer)

    errors = {(e.row_number, e.column): e.message for e in batch.row_errors.all()}
    assert errors[(3, "legal_first_name")] == "Enter the child's legal first name"
    assert errors[(4, "date_of_birth")] == "Date of birth must be today or in the past"
    assert errors[(5, "date_of_birth")] == "Date of birth must be a date like 17/05/2014 or 2014-05-17"
    assert (6, "postcode") in errors
    assert errors[(7, "school_urn")] == "No school with URN 999999 is on the register"
    assert errors[(8, "concern_nature")] == "Describe the nature of the concern"
    assert errors[(9, "legal_last_name")] == "The same child as row 2 (same names and date of birth)"
    assert (batch.new_count, batch.error_count) == (1, 7)
    assert Child.objects.count() == 1


@pytest.mark.django_db
def test_a_likely_match_is_counted_and_kept_for_an_officer(la: LocalAuthority, officer: User, school: School) -> None:
    values = row(school.urn, 0)
    known = ChildFactory(
        local_authority=la,
        legal_first_name=values["legal_last_name"],  # the names swapped
        legal_last_name=values["legal_first_name"],
        date_of_birth=date.fromisoformat(values["date_of_birth"]),
    )
    same = row(school.urn, 1)
    certain = ChildFactory(
        local_authority=la,
        legal_first_name=same["legal_first_name"],
        legal_last_name=same["legal_last_name"],
        date_of_birth=date.fromisoformat(same["date_of_birth"]),
    )

    batch = preview(officer, csv_bytes([values, same, row(school.urn, 2)]))
    assert (batch.likely_match_count, batch.updated_count, batch.new_count) == (1, 1, 1)
    batch = batch_confirm(batch_id=batch.pk, user=officer)

    assert (batch.likely_match_count, batch.updated_count, batch.new_count) == (1, 1, 1)
    match = PossibleMatch.objects.get()
    assert match.candidate == known
    assert "first name and surname swapped" in match.reasons
    assert Episode.objects.get(child=certain).state == State.ADDRESS_VERIFICATION


@pytest.mark.django_db
def test_an_xlsx_file_gives_what_the_csv_gives(officer: User, school: School) -> None:
    rows = [row(school.urn, n) for n in range(3)]
    batch = batch_confirm(batch_id=preview(officer, xlsx_bytes(rows), "notifications.xlsx").pk, user=officer)
    assert (batch.status, batch.new_count, batch.error_count) == (BatchStatus.DONE, 3, 0)


@pytest.mark.django_db
def test_a_utf8_byte_order_mark_is_accepted(officer: User, school: School) -> None:
    batch = preview(officer, csv_bytes([row(school.urn, 0)], bom=True))
    assert (batch.new_count, batch.error_count) == (1, 0)


def _without(column: str) -> list[str]:
    return [h for h in HEADINGS if h != column]


BAD_FILES: dict[str, tuple[str, Any, str]] = {
    "wrong extension": ("notifications.txt", lambda urn: csv_bytes([row(urn)]), "must be a CSV or XLSX file"),
    "a workbook named .csv": ("n.csv", lambda urn: xlsx_bytes([row(urn)]), "is an Excel workbook"),
    "not a workbook": ("n.xlsx", lambda urn: csv_bytes([row(urn)]), "is not an Excel workbook"),
    "undecodable bytes": (
        "n.csv",
        lambda urn: csv_bytes([row(urn)]) + "Zoë,Fletcher\n".encode("cp1252"),
        "is not UTF-8 text (row 3 cannot be read)",
    ),
    "UTF-16": ("n.csv", lambda urn: csv_bytes([row(urn)]).decode().encode("utf-16"), "UTF-16"),
    "empty": ("n.csv", lambda urn: b"", "The file is empty"),
    "headings only": ("n.csv", lambda urn: csv_bytes([]), "no rows to import"),
    "a required column missing": (
        "n.csv",
        lambda urn: csv_bytes([row(urn)], _without("date_of_birth")),
        "required columns are missing: date_of_birth",
    ),
    "a column twice": (
        "n.csv",
        lambda urn: csv_bytes([row(urn)], [*HEADINGS, "postcode"]),
        "appear more than once: postcode",
    ),
    "an unknown column": (
        "n.csv",
        lambda urn: csv_bytes([row(urn)], [*HEADINGS, "favourite_colour"]),
        "not columns of this file: favourite_colour",
    ),
    "a formula in a CSV cell": (
        "n.csv",
        lambda urn: csv_bytes([row(urn, reason_detail='=HYPERLINK("http://x","y")')]),
        "Row 2, reason_detail: the cell starts with '='",
    ),
    "a sign before a letter in a CSV cell": (
        "n.csv",
        lambda urn: csv_bytes([row(urn, legal_middle_names="-cmd")]),
        "a spreadsheet would run it as a formula",
    ),
    "an XLSX formula": (
        "n.xlsx",
        lambda urn: xlsx_bytes([row(urn)], formula_at="B2"),
        "Row 2 has a formula in cell B2",
    ),
    "merged heading cells": (
        "n.xlsx",
        lambda urn: xlsx_bytes([row(urn)], [HEADINGS[0], HEADINGS[1], "", *HEADINGS[2:]], merge="B1:C1"),
        "Column 3 has no heading",
    ),
}


def _col(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_refused_clearly_and_changes_nothing(case: str, officer: User, school: School) -> None:
    name, build, message = BAD_FILES[case]
    with pytest.raises(BadFile, match=message.replace("(", r"\(").replace(")", r"\)")):
        preview(officer, build(school.urn), name)
    assert register_size() == (0, 0, 0, 0)
    assert not ImportBatch.objects.exists()


@pytest.mark.django_db
def test_a_file_over_the_size_limit_is_refused(officer: User, school: School, settings: Any) -> None:
    settings.EHE_IMPORT_MAX_BYTES = 1024
    with pytest.raises(BadFile, match="larger than 0 MB"):
        preview(officer, csv_bytes([row(school.urn, n) for n in range(10)]))
    assert not ImportBatch.objects.exists()
    assert not list(Path(settings.EHE_IMPORT_DIR).iterdir())  # the upload is not kept


@pytest.mark.django_db
def test_hostile_strings_in_every_text_cell_never_half_write(officer: User, school: School, settings: Any) -> None:
    strings = json.loads(BLNS.read_text())
    columns = ["legal_first_name", "legal_last_name", "address_line_1", "reason_detail", "parent_1_last_name"]
    rows = [row(school.urn, n, **{columns[n % len(columns)]: value}) for n, value in enumerate(strings)]
    # Strings that a spreadsheet would run are refused with the whole file; the rest are imported.
    from imports.formats.tabular import is_formula

    safe = [r for r in rows if not any(is_formula(v) for v in r.values())]
    with pytest.raises(BadFile):
        preview(officer, csv_bytes(rows))
    assert register_size() == (0, 0, 0, 0)

    batch = preview(officer, csv_bytes(safe), "safe.csv")
    settings.EHE_IMPORT_INLINE_ROWS = batch.rows_total  # here, not by a worker
    batch = batch_confirm(batch_id=batch.pk, user=officer)

    assert batch.status == BatchStatus.DONE
    assert batch.rows_done == len(safe)
    imported = batch.new_count + batch.updated_count + batch.likely_match_count
    assert imported + batch.error_count == len(safe)
    # Every row written is whole: its child, case, risk check and notification.
    assert OffRollNotification.objects.count() == imported
    assert Episode.objects.exclude(state=State.NOTIFIED).count() == Episode.objects.count()
    assert Child.objects.filter(episodes__isnull=True).count() == 0


@pytest.mark.django_db
def test_the_command_previews_and_imports(officer: User, school: School, tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "n.csv"
    path.write_bytes(csv_bytes([row(school.urn, n) for n in range(4)]))

    call_command("import_file", "notifications", str(path), "--dry-run", "--as", officer.username)
    assert register_size() == (0, 0, 0, 0)
    call_command("import_file", "notifications", str(path), "--as", officer.username)
    assert Child.objects.count() == 4
    assert "Imported 4 rows" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already imported"):
        call_command("import_file", "notifications", str(path), "--as", officer.username)


@pytest.mark.django_db
def test_the_command_refuses_a_user_who_may_not_import(la: LocalAuthority, tmp_path: Path) -> None:
    auditor = make_user(Role.AUDITOR, la)
    path = tmp_path / "n.csv"
    path.write_bytes(b"x")
    with pytest.raises(CommandError, match="not an EHE officer or manager"):
        call_command("import_file", "notifications", str(path), "--as", auditor.username)


def _to_record_calls(monkeypatch: Any) -> list[int]:
    """The row numbers the notifications format checks with the form, in order."""
    from imports.formats.notifications import NotificationsFormat

    calls: list[int] = []
    check = NotificationsFormat.to_record

    def counted(self: Any, row_number: int, row: dict[str, Any], *, context: Any) -> Any:
        calls.append(row_number)
        return check(self, row_number, row, context=context)

    monkeypatch.setattr(NotificationsFormat, "to_record", counted)
    return calls


@pytest.mark.django_db
def test_a_run_confirmed_at_once_reads_the_rows_its_preview_checked(
    officer: User, school: School, monkeypatch: Any
) -> None:
    content = csv_bytes([row(school.urn, n) for n in range(5)] + [row(school.urn, 9, upn="Z801200001001")])
    calls = _to_record_calls(monkeypatch)

    with checked_rows_kept():
        batch = preview(officer, content)
        batch = batch_confirm(batch_id=batch.pk, user=officer)

    assert calls == [2, 3, 4, 5, 6, 7]  # each row checked once, by the preview
    assert batch.status == BatchStatus.DONE
    assert (batch.new_count, batch.error_count, batch.rows_done) == (5, 1, 6)
    assert Child.objects.count() == 5
    assert [(e.row_number, e.column) for e in batch.row_errors.all()] == [(7, "upn")]


@pytest.mark.django_db
def test_a_run_checks_every_row_again_on_another_day_or_without_kept_rows(
    officer: User, school: School, monkeypatch: Any, settings: Any
) -> None:
    calls = _to_record_calls(monkeypatch)
    with checked_rows_kept():
        batch = preview(officer, csv_bytes([row(school.urn, n) for n in range(3)]))
        with time_machine.travel(datetime(2026, 2, 3, 9, tzinfo=LONDON), tick=False):
            batch = batch_confirm(batch_id=batch.pk, user=officer)
    assert calls == [2, 3, 4, 2, 3, 4]  # the next day: the dates are checked against a new today
    assert (batch.status, batch.new_count) == (BatchStatus.DONE, 3)

    calls.clear()
    batch = preview(officer, csv_bytes([row(school.urn, n) for n in range(3, 5)]))
    batch = batch_confirm(batch_id=batch.pk, user=officer)
    assert calls == [2, 3, 2, 3]  # a preview and a run apart (a worker): each checks
    assert (batch.status, batch.new_count) == (BatchStatus.DONE, 2)
