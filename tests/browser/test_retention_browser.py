"""A manager runs a subject access export from the case page and downloads it; the retention,
legal hold, subject access and privacy pages pass axe-core (WCAG 2.2 AA)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ehe_register.models import AccessAction, AccessLog, LegalHold, LocalAuthority
from ehe_register.roles import Role
from tests.browser.test_portal_browser import sign_in
from tests.factories import ChildFactory, PersonFactory, make_episode, make_user
from workflows.models import Activity, ActivityKind, ActivityOutcome
from workflows.states import State

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _closed_case(la: LocalAuthority) -> Any:
    """A closed case whose child turns 25 within the month: on the retention page."""
    today = timezone.localdate()
    child = ChildFactory(
        local_authority=la,
        legal_first_name="Zoë",
        legal_last_name="Ó Briain",
        date_of_birth=today.replace(year=today.year - 25) + timedelta(days=10),
    )
    episode = make_episode(State.CLOSED, child=child)
    parent = PersonFactory(local_authority=la, first_name="Aoife", last_name="Ó Briain")
    parent.child_links.create(child=child, relationship="mother")
    return episode


def test_a_manager_downloads_a_subject_access_export(
    page: Any, live_server: Any, la: LocalAuthority, tmp_path: Path
) -> None:
    manager = make_user(Role.EHE_MANAGER, la, first_name="Mo", last_name="Khan")
    episode = _closed_case(la)
    Activity.objects.create(
        episode=episode,
        kind=ActivityKind.HOME_VISIT,
        occurred_at=timezone.now(),
        summary="Zoë showed her project on rivers",
        outcome=ActivityOutcome.PARENT_REACHED,
        recorded_by=manager,
        recorded_at=timezone.now(),
    )
    sign_in(page, live_server.url, manager, f"/cases/{episode.pk}/")
    page.get_by_role("link", name="Subject access export for this child or a parent").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Subject access export for Zoë Ó Briain")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download the export (zip)").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"subject-access-child-{episode.child_id}-")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as archive:
        names = archive.namelist()
        summary = archive.read("summary.html").decode("utf-8")
        [visits] = [n for n in names if n.endswith("-contacts_and_visits.csv")]
        assert "Zoë showed her project on rivers" in archive.read(visits).decode("utf-8-sig")
    assert "Subject access export: Zoë Ó Briain" in summary
    assert "Aoife" in summary  # the parent, flagged as a third party
    assert AccessLog.objects.filter(user=manager, action=AccessAction.SUBJECT_ACCESS).count() == 1


def test_retention_and_subject_access_pages_pass_axe(
    axe_page: Any, live_server: Any, la: LocalAuthority, axe_violations: Callable[[Any], str]
) -> None:
    manager = make_user(Role.EHE_MANAGER, la, first_name="Mo", last_name="Khan")
    episode = _closed_case(la)
    hold = LegalHold.objects.create(
        local_authority=la, child=episode.child, reason="A claim", placed_by=manager, placed_at=timezone.now()
    )
    parent = episode.child.carer_links.get().person
    page = axe_page
    found: dict[str, str] = {}
    page.goto(f"{live_server.url}/privacy/")
    found["privacy, signed out"] = axe_violations(page)
    sign_in(page, live_server.url, manager, "/cases/retention/")
    expect(page.get_by_role("cell", name="Held until lifted")).to_be_visible()
    paths = [
        "/cases/retention/",
        f"/cases/{episode.pk}/",
        f"/cases/{episode.pk}/legal-holds/",
        f"/cases/{episode.pk}/legal-holds/{hold.pk}/lift/",
        f"/exports/subject-access/children/{episode.child_id}/",
        f"/exports/subject-access/people/{parent.pk}/",
        "/privacy/",
    ]
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        found[path] = axe_violations(page)
    # The hold form with its errors.
    page.goto(f"{live_server.url}/cases/{episode.pk}/legal-holds/")
    page.get_by_role("button", name="Place the hold").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    expect(page.get_by_role("link", name="Enter why the records must be kept")).to_be_visible()
    found["hold form with errors"] = axe_violations(page)
    assert {k: v for k, v in found.items() if v} == {}
