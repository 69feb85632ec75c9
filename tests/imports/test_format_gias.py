"""The GIAS schools extract: cp1252, dd-mm-yyyy, schools created and updated, closed schools kept
and marked, special schools flagged; a dry run writes nothing; bad files change nothing."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest

from ehe_register.models import School
from imports.formats import BadFile
from imports.formats.gias import gias_apply
from tests.factories import SchoolFactory
from tests.imports.gias_files import HEADINGS, ROWS, extract, row

BLNS: list[str] = json.loads((Path(__file__).resolve().parents[1] / "data" / "blns.json").read_text())


def test_schools_are_created_with_accents_kept_closed_marked_and_special_flagged(la) -> None:
    counts = gias_apply(extract(ROWS))

    assert (counts.rows, counts.created, counts.updated, counts.unchanged) == (5, 4, 0, 0)
    assert (counts.closed, counts.special, counts.skipped, counts.errors) == (1, 2, 1, [])
    ecole = School.objects.get(urn="125300")
    assert ecole.name == "École Sainte-Thérèse Primary"
    assert (ecole.local_authority, ecole.establishment_number, ecole.laestab) == (la, "2001", "9362001")
    assert (ecole.phase, ecole.opened_on, ecole.closed_on, ecole.is_special) == (
        "Primary",
        date(1998, 9, 1),
        None,
        False,
    )
    assert School.objects.get(urn="125303").name == "St Œdilburga\u2019s CofE Junior"
    assert School.objects.get(urn="125303").closed_on == date(2019, 8, 31)
    assert set(School.objects.filter(is_special=True).values_list("urn", flat=True)) == {"125301", "125302"}
    assert School.objects.get(urn="125302").postcode == "GU1 1SJ"
    assert not School.objects.filter(urn="401234").exists()


def test_a_later_extract_updates_changed_schools_and_keeps_missing_and_closed_ones(la) -> None:
    gias_apply(extract(ROWS))
    later = [
        row("125300", "École Sainte-Thérèse Primary", number="2001", phase="Primary", opened="01-09-1998"),
        row(
            "125301",
            "Earlswood Brook School",
            number="7103",
            kind="Community special school",
            phase="Not applicable",
            status="Closed",
            closed="31-12-2025",
        ),
        row("125304", "New Free School", number="4005", kind="Free schools", opened="01-09-2026"),
    ]
    counts = gias_apply(extract(later))

    assert (counts.created, counts.updated, counts.unchanged, counts.closed) == (1, 1, 1, 1)
    assert School.objects.get(urn="125301").closed_on == date(2025, 12, 31)
    assert School.objects.filter(urn__in=["125302", "125303"]).count() == 2  # not in the later file: kept
    assert gias_apply(extract(later)).unchanged == 3  # the same file again changes nothing


def test_a_dry_run_counts_the_same_and_writes_nothing(la) -> None:
    SchoolFactory(urn="125300", local_authority=la, name="Old name", establishment_number="2001")
    dry = gias_apply(extract(ROWS), dry_run=True)

    assert (dry.dry_run, dry.created, dry.updated, dry.special, dry.skipped) == (True, 3, 1, 2, 1)
    assert School.objects.count() == 1
    assert School.objects.get(urn="125300").name == "Old name"
    real = gias_apply(extract(ROWS))
    assert (real.created, real.updated) == (dry.created, dry.updated)


def test_batches_are_written_in_small_batches_too(la) -> None:
    rows = [row(f"{130000 + n}", f"School {n}", number=f"{n:04d}") for n in range(25)]
    counts = gias_apply(extract(rows), batch_size=4)
    assert counts.created == 25
    assert School.objects.count() == 25


def test_a_row_that_cannot_be_read_is_reported_and_the_rest_go_on(la) -> None:
    rows = [
        row("12530", "Short URN"),
        row("125310", "Bad date", opened="31-02-2020"),
        row("125311", "", number="4011"),
        row("125312", "Closed without a date", status="Closed"),
        row("125313", "Good School", number="4013"),
        row("125313", "Twice", number="4014"),
        row("125314", "Letters in number", number="40A1"),
        row("125315", "Null \x00 byte", number="4015"),
    ]
    counts = gias_apply(extract(rows))

    assert [(e.row, e.column, e.message) for e in counts.errors] == [
        (2, "URN", "URN must be 6 digits, like 125300"),
        (3, "OpenDate", "OpenDate must be a real date, like 01-09-2010"),
        (4, "EstablishmentName", "EstablishmentName is blank"),
        (5, "CloseDate", "The school is closed but CloseDate is blank; it is left as it was"),
        (7, "URN", "URN 125313 is in the file twice (first at row 6); the first is used"),
        (8, "EstablishmentNumber", "EstablishmentNumber must be up to 4 digits, like 4001"),
        (9, "EstablishmentName", "EstablishmentName must not contain a null character"),
    ]
    assert list(School.objects.values_list("urn", "name")) == [("125313", "Good School")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (lambda: io.BytesIO(b""), "The file is empty"),
        (lambda: extract([]), "The file has column headings but no schools"),
        (lambda: io.BytesIO(b"\xef\xbb\xbf" + extract(ROWS).getvalue()), "starts with a byte-order mark"),
        (
            lambda: extract(ROWS, headings=[h if h != "CloseDate" else "Closed" for h in HEADINGS]),
            "missing these GIAS columns: CloseDate",
        ),
        (lambda: extract(ROWS, headings=[*HEADINGS[:-1], "URN"]), "These columns appear more than once: URN"),
        (
            lambda: io.BytesIO(extract(ROWS).getvalue() + b'125399,936,x,4099,"Bad \x81 byte",x,x,Open,,,x,x\r\n'),
            "Line 7 of the file has bytes that are not Windows-1252 text",
        ),
        (lambda: io.BytesIO(extract(ROWS).getvalue() + b'125397,936,x,4097,"unclosed\r\n'), "cannot be read as CSV"),
    ],
)
def test_bad_files_are_refused_and_change_nothing(la, data, message) -> None:
    with pytest.raises(BadFile) as refused:
        gias_apply(data())
    assert message in str(refused.value)
    assert not School.objects.exists()  # rows before the bad one were rolled back too


def test_limited_to_some_local_authorities(la, other_la) -> None:
    counts = gias_apply(extract([*ROWS, row("125320", "Ifield School", la="938")]), local_authority_codes=["938"])
    assert (counts.created, counts.skipped) == (1, 5)
    assert School.objects.get().local_authority == other_la


@pytest.mark.parametrize(
    "column", ["URN", "EstablishmentName", "OpenDate", "LA (code)", "Postcode", "EstablishmentNumber"]
)
def test_hostile_strings_as_values_never_crash(la, column) -> None:
    """Each string of the big list of naughty strings in one column of its own row, written as
    Windows-1252 (what it cannot hold becomes "?"): every row is a school or a plain error."""
    rows = []
    for n, value in enumerate(BLNS):
        values = dict(zip(HEADINGS, row(f"{200000 + n}", f"School {n}", number=f"{n:04d}"), strict=True))
        values[column] = value
        rows.append([values[h] for h in HEADINGS])
    data = "\r\n".join(",".join(_quoted(c) for c in r) for r in [HEADINGS, *rows]).encode("cp1252", "replace")
    counts = gias_apply(io.BytesIO(data))
    assert counts.created + counts.skipped + len(counts.errors) + counts.unchanged == counts.rows
    assert all(e.message for e in counts.errors)


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""').replace("\x00", "") + '"'
