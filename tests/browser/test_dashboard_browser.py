"""An EHE manager signs in to the dashboard, follows an overdue figure to a queue holding exactly
that many cases, opens the chart's table, and axe-core finds nothing on the dashboard."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role
from tests.browser.test_portal_browser import sign_in
from tests.factories import make_episode, make_user
from workflows.models import Escalation
from workflows.states import State

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def a_team_with_overdue_work(la: LocalAuthority) -> User:
    """Three cases whose next action has passed, one due today (not overdue), an officer absent
    today, an escalation past its due time and a case whose first contact is late."""
    manager = make_user(Role.EHE_MANAGER, la, first_name="Mina", last_name="Manager")
    officer = make_user(Role.EHE_OFFICER, la, first_name="Olive", last_name="Officer")
    today = timezone.localdate()
    for days in (1, 2, 9):
        make_episode(State.S437_NOTICE, la=la, assigned_officer=officer, next_action_due=today - timedelta(days=days))
    make_episode(State.S437_NOTICE, la=la, assigned_officer=officer, next_action_due=today)
    make_episode(State.EDUCATION_ENQUIRY, la=la, received_on=today - timedelta(days=40))
    late = make_episode(State.MONITORING, la=la, next_action_due=today + timedelta(days=5))
    Escalation.objects.create(
        episode=late,
        local_authority=la,
        rule="contacts_stale",
        level=1,
        owner_role=Role.EHE_OFFICER.value,
        raised_at=timezone.now() - timedelta(days=8),
        due_at=timezone.now() - timedelta(days=1),
    )
    return manager


def test_a_manager_follows_an_overdue_figure_and_reads_the_chart_table(
    page: Any, live_server: Any, la: LocalAuthority
) -> None:
    manager = a_team_with_overdue_work(la)
    sign_in(page, live_server.url, manager, "/")
    expect(page.get_by_role("heading", name="Manager dashboard", level=1)).to_be_visible()

    figure = page.locator('a[data-overdue="next_action"]')
    count = int(re.match(r"\d+", figure.inner_text()).group(0))  # type: ignore[union-attr]
    assert count == 3
    figure.click()

    expect(page.get_by_role("heading", name="Overdue checks", level=1)).to_be_visible()
    expect(page.locator("table.govuk-table caption")).to_contain_text(f"{count} cases found")
    assert page.locator("table.govuk-table tbody tr").count() == count

    page.go_back()
    table = page.locator("#sla-table")
    expect(table).to_be_hidden()
    page.get_by_text("Show the weekly figures as a table").click()
    expect(table).to_be_visible()
    assert table.locator("tbody tr").count() == 12


def test_the_dashboard_passes_axe(
    axe_page: Any, live_server: Any, la: LocalAuthority, axe_violations: Callable[[Any], str]
) -> None:
    manager = a_team_with_overdue_work(la)
    sign_in(axe_page, live_server.url, manager, "/")
    axe_page.get_by_text("Show the weekly figures as a table").click()

    assert axe_violations(axe_page) == ""
