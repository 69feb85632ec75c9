"""Building files of off-roll notifications in tests, from the documented columns.

``row(urn, **changes)`` is one row: the template's example row, for the school ``urn``, with a
child of a different name and date of birth per ``n`` so rows do not match each other.
``csv_bytes`` and ``xlsx_bytes`` write rows under the documented headings.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from openpyxl import Workbook

from imports.formats.notifications import COLUMNS

HEADINGS = [c.name for c in COLUMNS]
FIRST_NAMES = ["Maya", "Oliver", "Zoë", "Kwame", "Aisha", "Łukasz", "Siobhán", "Amelia", "Ravi", "Chen"]
LAST_NAMES = ["Fletcher", "Okafor", "Nowak", "O'Brien", "Patel", "Jones", "Evans", "Ahmed", "Smith", "Wu"]


def row(urn: str, n: int = 0, **changes: Any) -> dict[str, str]:
    """A valid row for child number ``n``: unique names, phone, home and postcode (up to
    120,000 rows), a date of birth spread over 12 years."""
    values = {c.name: c.example for c in COLUMNS}
    born = date(2010, 9, 1) + timedelta(days=(n * 37) % 4380)
    values.update(
        school_urn=urn,
        legal_first_name=f"{FIRST_NAMES[n % 10]}{_letters(n // 10)}",
        legal_last_name=f"{LAST_NAMES[(n // 7) % 10]}{_letters(n // 70)}",
        date_of_birth=born.isoformat(),
        address_line_1=f"{n + 1} Meadow Lane",
        postcode=f"GU{1 + n % 30} {n // 30 % 10}{_UNIT[n // 300 % 20]}{_UNIT[n // 6000 % 20]}",
        parent_1_first_name="Jo",
        parent_1_last_name=f"Parent{_letters(n)}",
        parent_1_emergency_phone=f"07700{n % 1000000:06d}",
        notice_received_on="2026-01-12",
        removed_from_roll_on="2026-01-14",
    )
    values.update({k: str(v) for k, v in changes.items()})
    return values


_UNIT = "ABDEFGHJLNPQRSTUWXYZ"  # the letters a postcode's last two may be


def _letters(n: int) -> str:
    """A name-safe spelling of a number: 0 -> "", 1 -> "a", 27 -> "ba" (names hold no digits)."""
    out = ""
    while n:
        n, digit = divmod(n, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[digit] + out
    return out


def csv_bytes(rows: list[dict[str, str]], headings: list[str] | None = None, *, bom: bool = False) -> bytes:
    headings = headings or HEADINGS
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(headings)
    for values in rows:
        writer.writerow([values.get(h, "") for h in headings])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


def xlsx_bytes(rows: list[dict[str, str]], headings: list[str] | None = None, **sheet: Any) -> bytes:
    headings = headings or HEADINGS
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.append(headings)
    for values in rows:
        ws.append([values.get(h, "") for h in headings])
    if sheet.get("formula_at"):
        ws[sheet["formula_at"]] = "=1+1"
    if sheet.get("merge"):
        ws.merge_cells(sheet["merge"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
