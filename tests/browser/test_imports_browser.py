"""An EHE officer imports a file of 5,000 off-roll notifications in a real browser: the preview,
the confirmation, the progress bar (moved by static/js/import-progress.mjs while a real Celery
worker imports the file) reaching 100%, and the children in the queues. The import pages pass
axe-core."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ehe_register.models import Child, LocalAuthority, User
from ehe_register.roles import Role
from imports import tasks
from imports.models import ImportBatch
from tests.browser.test_portal_browser import sign_in
from tests.factories import SchoolFactory, make_user
from tests.imports.notification_files import csv_bytes, row
from tests.notifications.test_celery_integration import (  # noqa: F401 - the fixtures, by name
    CELERY,
    REDIS_URL,
    Worker,
    _redis_up,
    queue,
    workers,
)
from workflows.models import Episode
from workflows.states import State

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = 5_000


def _worker_imports(
    queue: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    folder: Path,
    settings: Any,
) -> None:
    settings.EHE_IMPORT_DIR = str(folder)
    monkeypatch.setenv("EHE_IMPORT_DIR", str(folder))  # the worker reads the same uploads
    monkeypatch.setattr(tasks.batch_run, "delay", lambda batch_id: tasks.batch_run.apply_async([batch_id], queue=queue))


@pytest.mark.celery_integration
@pytest.mark.skipif(not CELERY.exists(), reason="no celery executable in .venv")
@pytest.mark.skipif(not _redis_up(), reason=f"Redis is not answering at {REDIS_URL}")
def test_an_officer_imports_5000_notifications_and_finds_the_children_in_the_queues(
    page: Any,
    live_server: Any,
    la: LocalAuthority,
    queue: str,  # noqa: F811
    workers: Callable[..., Worker],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    tmp_path: Path,
) -> None:
    _worker_imports(queue, monkeypatch, tmp_path / "imports", settings)
    school = SchoolFactory(local_authority=la, urn="125001")
    officer = make_user(Role.EHE_OFFICER, la)
    workers(queue, 2525)
    file = tmp_path / "notifications.csv"
    file.write_bytes(csv_bytes([row(school.urn, n) for n in range(ROWS)]))

    sign_in(page, live_server.url, officer, "/imports/")
    page.get_by_label("Upload a file").set_input_files(str(file))
    page.get_by_role("button", name="Check the file").click(timeout=300_000)
    expect(page.get_by_role("heading", name="What this file would do")).to_be_visible(timeout=300_000)
    expect(page.locator('[data-count="new"]')).to_have_text(str(ROWS))
    assert not Child.objects.exists()  # nothing before confirming

    page.get_by_role("button", name=f"Import {ROWS} rows").click(timeout=120_000)
    bar = page.locator("progress")
    expect(bar).to_be_visible()
    seen = _watch(page, bar, until=lambda: page.get_by_text("Import complete").is_visible(), seconds=600)

    assert seen[-1] == 100
    assert seen == sorted(seen)  # it only moves forward
    expect(page.get_by_text(f"100% ({ROWS} of {ROWS} rows)")).to_be_visible()
    assert Child.objects.count() == ROWS
    assert Episode.objects.filter(state=State.ADDRESS_VERIFICATION).count() == ROWS

    # The children are in the officer's queues.
    last = row(school.urn, ROWS - 1)
    page.goto(f"{live_server.url}/cases/queues/new/?q={last['legal_first_name']}", timeout=600_000)
    expect(page.get_by_role("heading", name="New and unassigned")).to_be_visible()
    expect(page.locator("td", has_text=last["legal_first_name"]).first).to_be_visible()


def _watch(page: Any, bar: Any, *, until: Callable[[], bool], seconds: float) -> list[int]:
    """The bar's values as the page shows them, until ``until`` (the page reloads at the end)."""
    seen: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = int(float(bar.evaluate("el => el.value")))
        except Exception:  # the page is reloading
            value = None
        if value is not None and (not seen or seen[-1] != value):
            seen.append(value)
        if until():
            value = int(float(bar.evaluate("el => el.value")))
            if not seen or seen[-1] != value:
                seen.append(value)
            return seen
        page.wait_for_timeout(250)
    raise AssertionError(f"The import did not finish in {seconds}s; the bar showed {seen}")


def test_the_import_pages_pass_axe(
    axe_page: Any,
    live_server: Any,
    la: LocalAuthority,
    axe_violations: Callable[[Any], str],
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.EHE_IMPORT_DIR = str(tmp_path / "imports")
    school = SchoolFactory(local_authority=la, urn="125001")
    officer: User = make_user(Role.EHE_OFFICER, la)
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([row(school.urn, n) for n in range(3)] + [row(school.urn, 5, sex="X")]))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe")
    problems = {}

    sign_in(axe_page, live_server.url, officer, "/imports/")
    problems["upload page"] = axe_violations(axe_page)
    axe_page.get_by_label("Upload a file").set_input_files(str(bad))
    axe_page.get_by_role("button", name="Check the file").click()
    expect(axe_page.get_by_text("There is a problem")).to_be_visible()
    problems["a refused file"] = axe_violations(axe_page)
    axe_page.get_by_label("Upload a file").set_input_files(str(good))
    axe_page.get_by_role("button", name="Check the file").click()
    expect(axe_page.get_by_role("heading", name="Rows with errors")).to_be_visible()
    problems["preview"] = axe_violations(axe_page)
    axe_page.get_by_role("button", name="Import 4 rows").click()
    expect(axe_page.get_by_text("Import complete")).to_be_visible()
    problems["result"] = axe_violations(axe_page)
    # A batch being imported: the progress bar.
    ImportBatch.objects.update(status="running", rows_done=2)
    axe_page.reload()
    expect(axe_page.locator("progress")).to_be_visible()
    problems["progress"] = axe_violations(axe_page)

    assert {name: found for name, found in problems.items() if found} == {}


def test_the_register_column_step_and_the_other_upload_pages_pass_axe(
    axe_page: Any,
    live_server: Any,
    la: LocalAuthority,
    axe_violations: Callable[[Any], str],
    settings: Any,
    tmp_path: Path,
) -> None:
    from tests.imports.legacy_files import REGISTER, register_file

    settings.EHE_IMPORT_DIR = str(tmp_path / "imports")
    manager: User = make_user(Role.EHE_MANAGER, la)
    register = tmp_path / "register.csv"
    register.write_bytes(register_file(REGISTER))
    problems = {}
    sign_in(axe_page, live_server.url, manager, "/imports/ctf/")
    problems["CTF upload"] = axe_violations(axe_page)
    axe_page.goto(f"{live_server.url}/imports/gias/")
    problems["GIAS upload"] = axe_violations(axe_page)
    axe_page.goto(f"{live_server.url}/imports/legacy/")
    problems["register upload"] = axe_violations(axe_page)

    axe_page.get_by_label("Upload a file").set_input_files(str(register))
    axe_page.get_by_role("button", name="Check the file").click()
    expect(axe_page.get_by_role("heading", name="Which column holds what")).to_be_visible()
    problems["column step"] = axe_violations(axe_page)
    axe_page.get_by_label("State of the case").select_option("Not in this file")
    axe_page.get_by_role("button", name="Save the columns and check the file").click()
    expect(axe_page.get_by_text("There is a problem")).to_be_visible()
    problems["column step with an error"] = axe_violations(axe_page)
    axe_page.get_by_label("State of the case").select_option("Status")
    axe_page.get_by_role("button", name="Save the columns and check the file").click()
    expect(axe_page.get_by_role("heading", name="What this file would do")).to_be_visible()
    expect(axe_page.locator('[data-count="new"]')).to_have_text("3")
    problems["register preview"] = axe_violations(axe_page)
    assert {name: found for name, found in problems.items() if found} == {}
