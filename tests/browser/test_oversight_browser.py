"""The auditor finds, in the access log, the case an officer has just opened; the quality audit,
auditor and DfE return pages pass axe-core (WCAG 2.2 AA)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ehe_register.models import LocalAuthority
from ehe_register.roles import Role
from tests.browser.test_casework_browser import another_person
from tests.browser.test_portal_browser import sign_in
from tests.factories import ChildFactory, make_episode, make_user
from workflows.models import AuditCase
from workflows.services.audit import audit_action_add, audit_sample_draw
from workflows.states import State

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_auditor_finds_the_case_an_officer_just_opened(
    page: Any, browser: Any, live_server: Any, la: LocalAuthority
) -> None:
    officer = make_user(Role.EHE_OFFICER, la, first_name="Priya", last_name="Shah")
    auditor = make_user(Role.AUDITOR, la, first_name="Olu", last_name="Adeyemi")
    child = ChildFactory(local_authority=la, legal_first_name="Zoë", legal_last_name="Ó Briain")
    episode = make_episode(State.MONITORING, child=child)
    case_path = f"/cases/{episode.pk}/"

    with another_person(browser, bypass_csp=False) as officer_page:
        sign_in(officer_page, live_server.url, officer, case_path)
        expect(officer_page.get_by_role("heading", name="Zoë Ó Briain", level=1)).to_be_visible()

    sign_in(page, live_server.url, auditor, "/")
    page.get_by_role("link", name="Access log").first.click()
    page.wait_for_url(f"{live_server.url}/auditor/access-log/")
    page.get_by_label("Who").select_option(label="Priya Shah")
    page.get_by_role("button", name="Filter the log").click()
    page.wait_for_load_state()
    rows = page.get_by_role("row").filter(has_text="Priya Shah")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Viewed")
    expect(rows).to_contain_text("Zoë Ó Briain")
    expect(rows).to_contain_text(case_path)
    # From the entry to the child's field history.
    rows.get_by_role("link", name="Zoë Ó Briain").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Zoë Ó Briain")


def test_oversight_pages_pass_axe(
    axe_page: Any, live_server: Any, la: LocalAuthority, axe_violations: Callable[[Any], str]
) -> None:
    manager = make_user(Role.EHE_MANAGER, la, first_name="Mo", last_name="Khan")
    officer = make_user(Role.EHE_OFFICER, la)
    episode = make_episode(State.MONITORING, la=la, assigned_officer=officer)
    sample = audit_sample_draw(actor=manager, month=timezone.localdate().replace(day=1), seed=3)
    audit_case = AuditCase.objects.get(sample=sample, episode=episode)
    audit_action_add(
        audit_case=audit_case, actor=manager, description="Record the visit", owner=officer, due_on=timezone.localdate()
    )
    page = axe_page
    sign_in(page, live_server.url, manager, "/audit/")
    found: dict[str, str] = {}
    paths = [
        "/audit/",
        f"/audit/samples/{sample.pk}/",
        f"/audit/cases/{audit_case.pk}/",
        "/audit/results/",
        "/auditor/access-log/",
        f"/auditor/history/child/{episode.child_id}/",
        f"/auditor/history/case/{episode.pk}/",
        "/exports/",
        "/exports/dfe-return/",
    ]
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        found[path] = axe_violations(page)
    # The audit form with its errors.
    page.goto(f"{live_server.url}/audit/cases/{audit_case.pk}/")
    page.get_by_role("button", name="Save the audit").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    found["audit form with errors"] = axe_violations(page)
    assert {k: v for k, v in found.items() if v} == {}
