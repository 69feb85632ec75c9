"""The national schools list: a GIAS extract (``edubasealldataYYYYMMDD.csv``) creates and updates
School rows.

GIAS ("Get information about schools") publishes every establishment in England, open and closed,
as a CSV encoded Windows-1252 (cp1252) with dates written dd-mm-yyyy. The columns read are those
DESIGN section 3 names, plus ``EstablishmentStatus (name)`` when present:

``URN``, ``LA (code)``, ``EstablishmentNumber``, ``EstablishmentName``,
``TypeOfEstablishment (name)``, ``PhaseOfEducation (name)``, ``Postcode``, ``OpenDate``, ``CloseDate``.

- A school is found by its URN and updated when anything read differs; nothing is ever deleted:
  a closed school keeps its row (notifications and cases point at it) with its ``CloseDate``.
- A special school (a ``TypeOfEstablishment`` naming a special school: community, foundation,
  non-maintained and independent special schools, special academies and free schools) is flagged
  ``is_special``. The consent rule reads ``Episode.special_school_placed_by_la``; a CTF from a
  special school sets that flag from ``is_special`` (``imports.formats.ctf``).
- Establishments of an LA that is not on the register (Welsh schools, schools overseas) are
  skipped and counted, not errors. A row that cannot be read is reported with its row number and
  column, and the rest go on.
- The file is read as a stream and written in batches, all inside one transaction: a file refused
  half-way (bytes that are not Windows-1252, say) changes nothing. ``dry_run`` computes the same
  counts without writing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ehe_register.models import LocalAuthority, School
from ehe_register.roles import Role
from ehe_register.validators import validate_postcode
from imports.formats import BadFile, ImportContext, Outcome, RowError, register
from imports.formats.base import date_parse, text

COLUMNS = {
    "urn": "URN",
    "la_code": "LA (code)",
    "establishment_number": "EstablishmentNumber",
    "name": "EstablishmentName",
    "type_name": "TypeOfEstablishment (name)",
    "phase": "PhaseOfEducation (name)",
    "postcode": "Postcode",
    "opened_on": "OpenDate",
    "closed_on": "CloseDate",
}
OPTIONAL_COLUMNS = {"status": "EstablishmentStatus (name)"}
FIELDS = ("local_authority_id", "establishment_number", "name", "type_name", "phase", "is_special", "postcode")
DATE_FIELDS = ("opened_on", "closed_on")
_SPECIAL = re.compile(r"\bspecial\b", re.IGNORECASE)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


@dataclass
class GiasCounts:
    """What an extract did (or, in a dry run, would do) to the schools list."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    closed: int = 0  # rows for closed schools, kept with their close date
    special: int = 0  # rows for special schools, flagged for the consent rule
    skipped: int = 0  # establishments of an LA not on the register
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False


def gias_apply(
    stream: IO[bytes],
    *,
    dry_run: bool = False,
    batch_size: int = 1000,
    local_authority_codes: Collection[str] | None = None,
) -> GiasCounts:
    """Create and update School rows from a GIAS extract; the counts of what changed.

    ``local_authority_codes`` limits the load to those LAs' establishments (the rest are skipped);
    by default every LA on the register is loaded, since schools near a border notify children
    of neighbouring LAs. Raises :class:`BadFile` (and changes nothing) for a file that is not a
    GIAS extract: a byte-order mark, bytes that are not Windows-1252, a missing or repeated
    column, or no rows.
    """
    counts = GiasCounts(dry_run=dry_run)
    la_ids = dict(LocalAuthority.objects.values_list("dfe_code", "pk"))
    if local_authority_codes is not None:
        la_ids = {code: pk for code, pk in la_ids.items() if code in set(local_authority_codes)}
    rows = _rows(stream)
    if dry_run:
        _apply(rows, counts, la_ids, batch_size, write=False)
    else:
        with transaction.atomic():
            _apply(rows, counts, la_ids, batch_size, write=True)
    if counts.rows == 0:
        raise BadFile("The file has column headings but no schools")
    return counts


def _apply(
    rows: Iterator[tuple[int, dict[str, str]]], counts: GiasCounts, la_ids: dict[str, int], size: int, *, write: bool
) -> None:
    seen: dict[str, int] = {}
    batch: list[dict[str, object]] = []
    for row_number, values in rows:
        counts.rows += 1
        school = _school_values(row_number, values, counts, la_ids, seen)
        if school is None:
            continue
        batch.append(school)
        if len(batch) >= size:
            _flush(batch, counts, write=write)
            batch = []
    if batch:
        _flush(batch, counts, write=write)


def _flush(batch: list[dict[str, object]], counts: GiasCounts, *, write: bool) -> None:
    """Compare a batch with the schools held (one query) and write what is new or changed."""
    outcomes, new, changed = schools_compare(batch)
    counts.unchanged += outcomes.count("unchanged")
    counts.created += len(new)
    counts.updated += len(changed)
    if write:
        schools_write(new, changed)


def schools_compare(batch: list[dict[str, object]]) -> tuple[list[str], list[School], list[School]]:
    """Each school's values against the school held (one query): ``created``, ``updated`` or
    ``unchanged`` for each, and the schools to create and to update (changed in memory)."""
    held = {s.urn: s for s in School.objects.filter(urn__in=[v["urn"] for v in batch])}
    outcomes: list[str] = []
    new: list[School] = []
    changed: list[School] = []
    for values in batch:
        school = held.get(str(values["urn"]))
        if school is None:
            new.append(School(**values))  # type: ignore[misc]
            outcomes.append("created")
            continue
        if all(getattr(school, name) == values[name] for name in (*FIELDS, *DATE_FIELDS)):
            outcomes.append("unchanged")
            continue
        for name in (*FIELDS, *DATE_FIELDS):
            setattr(school, name, values[name])
        changed.append(school)
        outcomes.append("updated")
    return outcomes, new, changed


def schools_write(new: list[School], changed: list[School]) -> None:
    School.objects.bulk_create(new)
    School.objects.bulk_update(changed, [*FIELDS, *DATE_FIELDS])


def _school_values(
    row: int, values: dict[str, str], counts: GiasCounts, la_ids: dict[str, int], seen: dict[str, int]
) -> dict[str, object] | None:
    """One row's School fields, or None (skipped, or its problems added to ``counts``)."""
    before = len(counts.errors)

    def problem(key: str, message: str) -> None:
        counts.errors.append(RowError(row, COLUMNS.get(key) or OPTIONAL_COLUMNS.get(key, key), message))

    urn = values["urn"]
    if not re.fullmatch(r"[0-9]{6}", urn):
        problem("urn", "URN must be 6 digits, like 125300")
    elif urn in seen:
        problem("urn", f"URN {urn} is in the file twice (first at row {seen[urn]}); the first is used")
    la_id = la_ids.get(values["la_code"])
    if la_id is None:
        if len(counts.errors) == before:
            counts.skipped += 1
            seen[urn] = row
        return None
    number = values["establishment_number"]
    if not re.fullmatch(r"[0-9]{0,4}", number):
        problem("establishment_number", "EstablishmentNumber must be up to 4 digits, like 4001")
    name = values["name"]
    if not name:
        problem("name", "EstablishmentName is blank")
    for key, limit in (("name", 200), ("type_name", 120), ("phase", 60)):
        if len(values[key]) > limit:
            problem(key, f"{COLUMNS[key]} must be {limit} characters or less")
        if "\x00" in values[key]:
            problem(key, f"{COLUMNS[key]} must not contain a null character")
    dates: dict[str, date | None] = {}
    for key in DATE_FIELDS:
        dates[key] = date_parse(values[key]) if values[key] else None
        if values[key] and dates[key] is None:
            problem(key, f"{COLUMNS[key]} must be a real date, like 01-09-2010")
    if values.get("status", "").casefold() == "closed" and not values["closed_on"]:
        problem("closed_on", "The school is closed but CloseDate is blank; it is left as it was")
    if len(counts.errors) > before:
        return None
    seen[urn] = row
    is_special = bool(_SPECIAL.search(values["type_name"]))
    counts.special += is_special
    counts.closed += dates["closed_on"] is not None
    return {
        "urn": urn,
        "local_authority_id": la_id,
        "establishment_number": number.zfill(4) if number else "",
        "name": name,
        "type_name": values["type_name"],
        "phase": values["phase"],
        "is_special": is_special,
        "postcode": _postcode(values["postcode"]),
        **dates,
    }


def _postcode(value: str) -> str:
    """The postcode if it is one (GIAS leaves some blank or writes other text: kept blank)."""
    try:
        return validate_postcode(value) if value else ""
    except ValidationError:  # reference data: a bad postcode is dropped, not the school
        return ""


def _rows(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, values by field) for each row after the headings; the heading row is row 1.

    Checks the file before the first row: no byte-order mark (GIAS writes none; one means the file
    was re-saved, and its text is no longer Windows-1252), the columns present once each."""
    head = stream.read(3)
    if any(head.startswith(bom) for bom in _BOMS):
        raise BadFile(
            "The file starts with a byte-order mark, so it has been re-saved since GIAS made it and is no "
            "longer in the Windows-1252 encoding GIAS uses. Download the extract from GIAS again and "
            "upload it without opening it in a spreadsheet"
        )
    reader = csv.reader(_decoded_lines(_Rejoined(head, stream)), strict=True)
    row = 1
    try:
        headings = next(reader, None)
        if not headings:
            raise BadFile("The file is empty")
        index = _columns(headings)
        for row, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            yield row, {key: text(cells[i]) if i < len(cells) else "" for key, i in index.items()}
    except csv.Error as error:
        raise BadFile(f"Row {row + 1} cannot be read as CSV ({error})") from error


def _decoded_lines(raw: io.RawIOBase) -> Iterator[str]:
    """The file's lines as text. Windows-1252 gives one character per byte, so each line decodes on
    its own and a byte it does not define is reported on its own line."""
    for number, line in enumerate(io.BufferedReader(raw), start=1):
        try:
            yield line.decode("cp1252")
        except UnicodeDecodeError as error:
            raise BadFile(
                f"Line {number} of the file has bytes that are not Windows-1252 text, the encoding GIAS uses. "
                "Download the extract from GIAS again and upload it without opening it in a spreadsheet"
            ) from error


def _columns(headings: list[str]) -> dict[str, int]:
    """Where each column read is; refuses a file missing one or repeating one."""
    stripped = [heading.strip() for heading in headings]
    wanted = {**COLUMNS, **OPTIONAL_COLUMNS}
    repeated = sorted({h for h in stripped if h in wanted.values() and stripped.count(h) > 1})
    if repeated:
        raise BadFile(f"These columns appear more than once: {', '.join(repeated)}")
    missing = [heading for heading in COLUMNS.values() if heading not in stripped]
    if missing:
        raise BadFile(
            f"The file is missing these GIAS columns: {', '.join(missing)}. Use the full establishment "
            "extract (edubasealldata) from GIAS"
        )
    return {key: stripped.index(heading) for key, heading in wanted.items() if heading in stripped}


class _Rejoined(io.RawIOBase):
    """The bytes already read (``head``) followed by the rest of ``stream``."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# ---------------------------------------------------------------------------------------------
# The format: the same steps through the import pipeline, with its preview and history


class GiasFormat:
    """The schools list through the pipeline: each row a school created (NEW), changed (UPDATED)
    or as held (UNCHANGED); an establishment of an LA not on the register is skipped and counted
    as unchanged (nothing about it changes). EHE managers load it; it is national reference data,
    so every LA's schools on the register are loaded, as :func:`gias_apply` does."""

    kind = "gias"
    label = "the GIAS schools list"
    extensions: tuple[str, ...] = (".csv",)
    columns: tuple[Any, ...] = ()
    template_available = False
    roles = (Role.EHE_MANAGER,)

    def rows(
        self, stream: IO[bytes], *, extension: str, context: ImportContext
    ) -> Iterator[tuple[int, dict[str, str]]]:
        any_row = False
        for number, values in _rows(stream):
            any_row = True
            yield number, values
        if not any_row:
            raise BadFile("The file has column headings but no schools")

    def to_record(self, row_number: int, row: dict[str, str], *, context: ImportContext) -> Any:
        cache = context.cache
        if "counts" not in cache:
            cache["counts"] = GiasCounts()
            cache["seen"] = {}
            cache["la_ids"] = dict(LocalAuthority.objects.values_list("dfe_code", "pk"))
        counts: GiasCounts = cache["counts"]
        before = len(counts.errors)
        values = _school_values(row_number, row, counts, cache["la_ids"], cache["seen"])
        if len(counts.errors) > before:
            errors = counts.errors[before:]
            del counts.errors[before:]  # the pipeline keeps them; per-file state stays small
            return errors
        return values if values is not None else SKIPPED

    def classify(self, records: Sequence[tuple[int, Any]], *, context: ImportContext) -> list[Outcome]:
        return self._compare(records)[0]

    def write(self, records: Sequence[tuple[int, Any]], *, context: ImportContext) -> list[Outcome]:
        outcomes, new, changed = self._compare(records)
        schools_write(new, changed)
        return outcomes

    def _compare(self, records: Sequence[tuple[int, Any]]) -> tuple[list[Outcome], list[School], list[School]]:
        schools = [values for _, values in records if values is not SKIPPED]
        compared, new, changed = schools_compare(schools) if schools else ([], [], [])
        found = iter(_OUTCOMES[outcome] for outcome in compared)
        return [Outcome.UNCHANGED if values is SKIPPED else next(found) for _, values in records], new, changed


#: An establishment of an LA not on the register: nothing to write.
SKIPPED: dict[str, object] = {}
_OUTCOMES = {"created": Outcome.NEW, "updated": Outcome.UPDATED, "unchanged": Outcome.UNCHANGED}

register(GiasFormat())
