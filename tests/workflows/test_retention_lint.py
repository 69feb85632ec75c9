"""Only retention lifts the triggers that keep append-only rows append-only (DESIGN section 3:
"Append-only and immutable rows ... change in one way only: the retention service anonymises them").

Every such row is protected by a database trigger; ``pgtrigger.ignore`` lifts one for the code
inside it. This scan fails the build if any code outside ``ALLOWED`` names it (or the setting it
writes), so that a new caller has to be argued for here.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("ehe_register", "workflows", "imports", "notifications", "bench")
ALLOWED = {
    "workflows/services/retention.py": "the retention service anonymises append-only rows",
    # Only the history triggers (``<label>:insert_insert`` / ``update_update``), never an
    # append-only one: the history rows they would write are written set-wise in their place,
    # and tests/workflows/test_bulk_notifications.py compares them with the triggers' own.
    "workflows/services/bulk_notifications.py": "a bulk import writes the history set-wise in place of its triggers",
}
LIFTS_A_TRIGGER = re.compile(r"pgtrigger\s*\.\s*ignore|from\s+pgtrigger\s+import[^\n]*\bignore\b|pgtrigger\.ignore'")


def trigger_lifts(source: str) -> list[int]:
    return [n for n, line in enumerate(source.splitlines(), 1) if LIFTS_A_TRIGGER.search(line)]


def test_the_scan_finds_a_lift() -> None:
    assert trigger_lifts("with pgtrigger.ignore('ehe_register.AccessLog:access_log_append_only'):\n    pass") == [1]
    assert trigger_lifts("from pgtrigger import ignore\n") == [1]
    assert trigger_lifts("cursor.execute(\"SELECT set_config('pgtrigger.ignore', 'x', false)\")") == [1]
    assert trigger_lifts("import pgtrigger\n@pgtrigger.register(pgtrigger.Protect(name='x'))") == []


def test_only_retention_lifts_the_append_only_triggers() -> None:
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or relative in ALLOWED:
                continue
            found += [f"{relative}:{n}" for n in trigger_lifts(path.read_text(encoding="utf-8"))]
    assert found == []
    assert trigger_lifts((ROOT / "workflows/services/retention.py").read_text(encoding="utf-8"))
