"""Reading a headed table from CSV or XLSX, lazily, with every check on the file as a whole.

Rows come out as ``(row number, {heading: text})``; the row number is the one a spreadsheet
shows (the headings are row 1). Every cell is text: XLSX numbers and dates are written the way a
person would type them (``07700900123``, ``2014-05-17``).

A file is refused (``BadFile``) for: an extension the format does not take; bytes that are not
UTF-8 (a UTF-16 file, or a spreadsheet saved as "CSV" in a legacy encoding); a workbook that is
not an XLSX file; no headings, or no rows; a heading missing, repeated, empty or unknown (merged
heading cells leave all but the first empty, so they are refused as empty headings); and any cell
a spreadsheet would run as a formula (an XLSX formula, or text starting with ``=``, ``@``, a tab or
a carriage return, or ``+``/``-`` followed by anything but a digit, a space or a bracket, so
``+44 7700 900123`` is a phone number and ``-`` alone is a dash). A UTF-8 byte-order mark, which
Excel writes at the start of "CSV UTF-8", is accepted and dropped.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import zipfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

from imports.formats import BadFile

FORMULA_START = ("=", "@", "\t", "\r")
_SIGN_THEN_SAFE = set("0123456789 (")
# The first characters of a cell that may be a formula: any other cell is not one.
_FORMULA_FIRST = frozenset({*FORMULA_START, "+", "-"})


def is_formula(text: str) -> bool:
    if text.startswith(FORMULA_START):
        return True
    return len(text) > 1 and text[0] in "+-" and text[1] not in _SIGN_THEN_SAFE


def check_extension(file_name: str, extensions: Iterable[str]) -> str:
    name = file_name.lower()
    for extension in extensions:
        if name.endswith(extension):
            return extension
    allowed = " or ".join(e.lstrip(".").upper() for e in extensions)
    article = "an" if allowed[:1] in set("AEFHILMNORSX") else "a"  # said as letters: "an XML file"
    raise BadFile(f"The file must be {article} {allowed} file. '{file_name}' is not.")


def read_table(
    stream: IO[bytes], *, extension: str, required: Iterable[str], optional: Iterable[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    rows = _csv_rows(stream) if extension == ".csv" else _xlsx_rows(stream)
    headings = _headings(rows, set(required), set(optional))
    return _body(rows, headings)


def read_headed(stream: IO[bytes], *, extension: str) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """A table whose headings are the council's own (a legacy register): the headings as the file
    spells them, and its rows keyed by them. Every check of :func:`read_table` but the list of
    known headings (a heading may be anything, once)."""
    rows = _csv_rows(stream) if extension == ".csv" else _xlsx_rows(stream)
    headings = _headings(rows, set(), set(), known_only=False)
    return headings, _body(rows, headings)


def _body(rows: Iterator[tuple[int, list[str]]], headings: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    any_row = False
    for number, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        any_row = True
        for index, cell in enumerate(cells):
            if cell[:1] in _FORMULA_FIRST and is_formula(cell):
                column = headings[index] if index < len(headings) else f"column {index + 1}"
                raise BadFile(
                    f"Row {number}, {column}: the cell starts with '{cell[:1]}' and a spreadsheet would run it "
                    "as a formula. Remove the formula (or the leading character) and upload the file again."
                )
        if len(cells) > len(headings) and any(c.strip() for c in cells[len(headings) :]):
            raise BadFile(f"Row {number} has more cells than the file has headings.")
        yield number, {heading: (cells[i].strip() if i < len(cells) else "") for i, heading in enumerate(headings)}
    if not any_row:
        raise BadFile("The file has headings but no rows to import.")


def _headings(
    rows: Iterator[tuple[int, list[str]]], required: set[str], optional: set[str], *, known_only: bool = True
) -> list[str]:
    first = next(rows, None)
    if first is None:
        raise BadFile("The file is empty.")
    _, cells = first
    while cells and not cells[-1].strip():
        cells = cells[:-1]
    if not cells:
        raise BadFile("The first row must hold the column headings. It is empty.")
    headings = [cell.strip().lower() if known_only else cell.strip() for cell in cells]
    for index, heading in enumerate(headings, start=1):
        if is_formula(heading):
            raise BadFile(f"Heading {index} is a formula. Headings must be plain text.")
        if not heading:
            raise BadFile(
                f"Column {index} has no heading. Give every column a heading of its own "
                "(merged heading cells are not allowed)."
            )
    repeated = sorted({h for h in headings if headings.count(h) > 1})
    if repeated:
        raise BadFile(f"These headings appear more than once: {', '.join(repeated)}. Keep one column of each.")
    if not known_only:
        return headings
    unknown = [h for h in headings if h not in required | optional]
    if unknown:
        raise BadFile(
            f"These headings are not columns of this file: {', '.join(unknown)}. "
            "Check the spelling against the column list, or remove those columns."
        )
    missing = [h for h in sorted(required) if h not in headings]
    if missing:
        raise BadFile(f"These required columns are missing: {', '.join(missing)}.")
    return headings


# --- CSV ---------------------------------------------------------------------------------------------


def _csv_rows(stream: IO[bytes]) -> Iterator[tuple[int, list[str]]]:
    start = stream.read(4)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BadFile("The file is saved as UTF-16 text. Save it as 'CSV UTF-8 (comma delimited)' and upload it again.")
    if start.startswith(b"PK\x03\x04"):
        raise BadFile("The file is an Excel workbook, not a CSV file. Upload it with the .xlsx ending.")
    stream.seek(0)
    reader = csv.reader(_decoded_lines(stream), strict=True)
    try:
        for cells in reader:
            if any("\x00" in cell for cell in cells):
                raise BadFile("The file holds binary data, not text. Upload a CSV file.")
            yield reader.line_num, cells
    except csv.Error as error:
        raise BadFile(f"Row {reader.line_num} is not valid CSV ({error}).") from None


def _decoded_lines(stream: IO[bytes]) -> Iterator[str]:
    """The file's lines as text, strictly UTF-8 (a leading byte-order mark dropped), one at a time,
    so that the line that cannot be read is the one named."""
    for number, raw in enumerate(stream, start=1):
        line = raw[3:] if number == 1 and raw.startswith(codecs.BOM_UTF8) else raw
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            raise BadFile(
                f"The file is not UTF-8 text (row {number} cannot be read). In Excel, save it as "
                "'CSV UTF-8 (comma delimited)' and upload it again."
            ) from None


# --- XLSX --------------------------------------------------------------------------------------------


def _xlsx_rows(stream: IO[bytes]) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(stream, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise BadFile(
            "The file is not an Excel workbook (.xlsx). Save it as an Excel workbook and try again."
        ) from error
    try:
        sheet = workbook.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(), start=1):
            cells = []
            for cell in row:
                if getattr(cell, "data_type", None) == "f":
                    where = getattr(cell, "coordinate", "")
                    message = f"Row {number} has a formula in cell {where}. "
                    raise BadFile(message + "Use values instead of formulas and upload the file again.")
                cells.append(_cell_text(cell.value))
            yield number, cells
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
