"""Generated files of off-roll notifications for the import benchmark, written as a stream.

``write_csv(path, urn, rows, start=...)`` writes ``rows`` valid rows under the documented headings
(``imports.formats.notifications.COLUMNS``): child number ``n`` has its own names, home, postcode
and parent's phone, a date of birth spread over 12 years, so no row matches another; ``start``
picks a different set of children (a file of children already on the register, say). The same
shape as ``tests/imports/notification_files.row``.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

FIRST_NAMES = ["Maya", "Oliver", "Zoë", "Kwame", "Aisha", "Łukasz", "Siobhán", "Amelia", "Ravi", "Chen"]
LAST_NAMES = ["Fletcher", "Okafor", "Nowak", "O'Brien", "Patel", "Jones", "Evans", "Ahmed", "Smith", "Wu"]
_UNIT = "ABDEFGHJLNPQRSTUWXYZ"  # the letters a postcode's last two may be


def _letters(n: int) -> str:
    """A name-safe spelling of a number: 0 -> "", 1 -> "a", 27 -> "ba" (names hold no digits)."""
    out = ""
    while n:
        n, digit = divmod(n, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[digit] + out
    return out


def row(urn: str, n: int) -> dict[str, str]:
    from imports.formats.notifications import COLUMNS

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
    return values


def write_csv(path: Path, urn: str, rows: int, *, start: int = 0) -> Path:
    from imports.formats.notifications import COLUMNS

    headings = [c.name for c in COLUMNS]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(headings)
        for n in range(start, start + rows):
            values = row(urn, n)
            writer.writerow([values[h] for h in headings])
    return path
