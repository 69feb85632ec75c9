"""An EHE officer takes a school's notification to monitoring in a real browser, and the casework
pages (queue, case, recording work, decisions) pass axe-core.

The school's notification is sent through the intake service; everything after that is done in
the browser, as people do it: the officer in one browser context, the school user in another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role
from tests.browser.test_portal_browser import choose, sign_in
from tests.ehe_register.intake_data import notification_input
from tests.factories import make_user
from workflows.models import Activity, Episode, TransitionLog
from workflows.services.submission import notification_submit
from workflows.states import State

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHILD = "Maya Fletcher"
# The address the school gave in its notification, and states again when the LA asks.
LINE_1, TOWN, POSTCODE = "12 Meadow Lane", "Guildford", "GU1 4AA"


@dataclass(frozen=True)
class Cast:
    officer: User
    school_user: User
    episode: Episode


def a_school_notifies(la: LocalAuthority) -> Cast:
    """An LA using the service, an EHE officer, and a school user whose school notified a child
    with no concern (so the case waits in address verification)."""
    officer = make_user(Role.EHE_OFFICER, la, first_name="Priya", last_name="Shah")
    school_user = make_user(Role.SCHOOL_USER, la, first_name="Sam", last_name="Office")
    school = school_user.schools.get()
    today = timezone.localdate()
    notification = notification_submit(
        data=notification_input(
            school,
            school_user,
            date_of_birth=date(today.year - 12, 5, 17),
            address_line_1=LINE_1,
            address_town=TOWN,
            postcode=POSTCODE,
            notice_received_on=today - timedelta(days=3),
            removed_from_roll_on=today - timedelta(days=1),
        )
    )
    episode = Episode.objects.get(notifications=notification)
    assert episode.state == State.ADDRESS_VERIFICATION
    assert episode.assigned_officer is None
    return Cast(officer=officer, school_user=school_user, episode=episode)


@contextmanager
def another_person(browser: Any, *, bypass_csp: bool) -> Iterator[Any]:
    """A second browser context: someone else, signed in on their own computer."""
    context = browser.new_context(bypass_csp=bypass_csp)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def success(page: Any) -> Any:
    return page.locator(".govuk-notification-banner--success")


def submit_empty_and_see_errors(page: Any, button: str, expected: list[str]) -> None:
    page.get_by_role("button", name=button).click()
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    assert summary.get_by_role("link").all_inner_texts() == expected


def walk_to_monitoring(
    officer_page: Any, school_page: Any, base_url: str, cast: Cast, at: Callable[[str], None]
) -> None:
    """The whole casework journey; ``at(name)`` is called on each page worth checking."""
    case_path = f"/cases/{cast.episode.pk}/"
    reference = cast.episode.reference
    page = officer_page

    # The officer finds the new case in the queue of new and unassigned cases.
    sign_in(page, base_url, cast.officer, "/")
    expect(page.get_by_role("heading", name="Your cases")).to_be_visible()
    page.get_by_role("link", name="New and unassigned").click()
    page.wait_for_url(f"{base_url}/cases/queues/new/")
    expect(page.get_by_role("heading", name="New and unassigned", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text=CHILD)
    expect(row).to_contain_text("Address verification")
    expect(row).to_contain_text("Unassigned")
    at("queue")

    row.get_by_role("link", name=reference).click()
    page.wait_for_url(f"{base_url}{case_path}")
    expect(page.get_by_role("heading", name=CHILD, level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text("Contact details: Not verified")
    at("case")

    # They take the case.
    page.get_by_role("button", name="Assign this case to me").click()
    page.wait_for_url(f"{base_url}{case_path}")
    expect(success(page)).to_contain_text(f"Case {reference} assigned to you")
    assignment = page.get_by_role("region", name="Assignment")
    expect(assignment).to_contain_text("Assigned to: Priya Shah")

    # They phone the family, who confirm the address.
    page.get_by_role("link", name="Record an address check").click()
    page.wait_for_url(f"{base_url}/cases/{cast.episode.pk}/address-checks/new/")
    expect(page.get_by_role("heading", name="Record an address check")).to_be_visible()
    at("address check")
    submit_empty_and_see_errors(
        page, "Save the check", ["Select how the details were checked", "Select the outcome of the check"]
    )
    at("address check with errors")
    choose(page, "How were the details checked?", "With the family")
    choose(page, "Outcome", "Confirmed")
    page.get_by_label("Notes").fill("Spoke to Joanne Fletcher, who confirmed the address.")
    page.get_by_role("button", name="Save the check").click()
    page.wait_for_url(f"{base_url}{case_path}")
    expect(success(page)).to_contain_text("Address check recorded.")
    expect(page.locator("main")).to_contain_text("Contact details: Not verified")

    # They ask the school that notified to confirm what it holds.
    page.get_by_role("link", name="Ask the school to confirm contact details").click()
    page.wait_for_url(f"{base_url}/cases/{cast.episode.pk}/school-requests/new/")
    school = cast.school_user.schools.get()
    asked = page.get_by_role("group", name="Which school do you want to ask?")
    expect(asked.get_by_role("radio", name=f"{school.name} (URN {school.urn})")).to_be_checked()
    at("school request")
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url(f"{base_url}{case_path}")
    expect(success(page)).to_contain_text(f"Request sent to {school.name}")

    # The school answers in its portal with the address its records hold.
    sign_in(school_page, base_url, cast.school_user, "/")
    school_page.get_by_role("navigation", name="Menu").get_by_role("link", name="Requests to confirm details").click()
    school_page.wait_for_url(f"{base_url}/school/requests/")
    waiting = school_page.get_by_role("row").filter(has_text="Waiting for your answer")
    at("school's requests")
    waiting.get_by_role("link", name=CHILD).click()
    expect(school_page.get_by_role("heading", name=f"Confirm contact details for {CHILD}")).to_be_visible()
    at("school's answer")
    school_page.get_by_label("Address line 1", exact=True).fill(LINE_1)
    school_page.get_by_label("Town or city (optional)").fill(TOWN)
    school_page.get_by_label("Postcode").fill(POSTCODE.lower())
    school_page.get_by_label("A parent's phone number (optional)").fill("07700 900123")
    school_page.get_by_role("button", name="Send your answer").click()
    school_page.wait_for_url(f"{base_url}/school/requests/")
    expect(success(school_page)).to_contain_text("Your answer has been sent to the local authority")

    # Back with the officer: the details are verified and the case has moved on by itself.
    page.reload()
    expect(page.locator("main")).to_contain_text("Contact details: Verified")
    expect(page.locator("main .govuk-tag").first).to_have_text("Education enquiry")
    timeline = page.get_by_role("region", name="Timeline")
    expect(timeline).to_contain_text("Move on to the education enquiry: Address verification to Education enquiry")

    # They visit the family at home, and see the child on their own.
    page.get_by_role("link", name="Record contact or visit").click()
    page.wait_for_url(f"{base_url}/cases/{cast.episode.pk}/activities/new/")
    expect(page.get_by_role("heading", name="Record a contact")).to_be_visible()
    at("activity")
    submit_empty_and_see_errors(
        page,
        "Save the contact",
        ["Select what kind of contact it was", "Select the outcome", "Enter a summary of the contact"],
    )
    at("activity with errors")
    choose(page, "What kind of contact was it?", "Home visit")
    choose(page, "Outcome", "Spoke with a parent or carer")
    page.get_by_label("Summary").fill("Visited Maya and her mother at home. Saw her work and the timetable.")
    page.get_by_label("The child was seen", exact=True).check()
    page.get_by_label("The child was seen alone", exact=True).check()
    page.get_by_label("The child's views (optional)").fill("Maya enjoys her science projects.")
    page.get_by_role("button", name="Save the contact").click()
    page.wait_for_url(f"{base_url}{case_path}")
    expect(success(page)).to_contain_text("Home visit recorded.")
    expect(timeline).to_contain_text("Home visit: Spoke with a parent or carer")
    expect(timeline).to_contain_text("Child seen alone")
    expect(timeline).to_contain_text("Child's views: Maya enjoys her science projects.")

    # They record the enquiry's outcome: the education is suitable.
    page.get_by_role("button", name="Record suitable education").click()
    page.wait_for_url(f"{base_url}/cases/{cast.episode.pk}/actions/provision_suitable/")
    expect(page.get_by_role("heading", name="Education is suitable")).to_be_visible()
    at("decision")
    page.get_by_label("Notes (optional)").fill("A broad curriculum, suited to her age and ability.")
    page.get_by_role("button", name="Record the outcome").click()
    page.wait_for_url(f"{base_url}{case_path}")
    expect(success(page)).to_contain_text("The case is now being monitored")
    expect(page.locator("main .govuk-tag").first).to_have_text("Monitoring")
    at("case in monitoring")


def test_an_officer_takes_a_notified_case_to_monitoring(
    page: Any, browser: Any, live_server: Any, la: LocalAuthority
) -> None:
    cast = a_school_notifies(la)
    blocked: list[str] = []

    def watch(console: Any) -> None:
        if "Content Security Policy" in console.text:
            blocked.append(console.text)

    page.on("console", watch)
    with another_person(browser, bypass_csp=False) as school_page:
        school_page.on("console", watch)
        walk_to_monitoring(page, school_page, live_server.url, cast, at=lambda name: None)

    episode = Episode.objects.get(pk=cast.episode.pk)
    assert episode.state == State.MONITORING
    assert episode.assigned_officer == cast.officer
    assert episode.contacts_verified_at is not None
    assert episode.review_due_on is not None
    logs = TransitionLog.objects.filter(episode=episode)
    assert list(logs.filter(transition="contacts_verified").values_list("from_state", "to_state")) == [
        (State.ADDRESS_VERIFICATION, State.EDUCATION_ENQUIRY)
    ]
    suitable = logs.get(transition="provision_suitable")
    assert (suitable.from_state, suitable.to_state) == (State.EDUCATION_ENQUIRY, State.MONITORING)
    assert suitable.actor_name == "Priya Shah"
    visit = Activity.objects.get(episode=episode)
    assert (visit.kind, visit.child_seen, visit.child_seen_alone) == ("home_visit", True, True)
    assert visit.child_views == "Maya enjoys her science projects."
    assert episode.child_seen_at_home_at == visit.occurred_at
    checks = episode.child.addresses.get(kind="current").checks.order_by("checked_at")
    assert [(c.method, c.outcome) for c in checks] == [("family", "confirmed"), ("school", "confirmed")]
    assert blocked == []  # the pages work under the service's own Content Security Policy


def test_every_casework_page_passes_axe(
    axe_page: Any, browser: Any, live_server: Any, la: LocalAuthority, axe_violations: Callable[[Any], str]
) -> None:
    cast = a_school_notifies(la)
    found: dict[str, str] = {}
    checked: list[str] = []

    with another_person(browser, bypass_csp=True) as school_page:

        def check(name: str) -> None:
            on = school_page if name.startswith("school's") else axe_page
            checked.append(name)
            if violations := axe_violations(on):
                found[name] = violations

        walk_to_monitoring(axe_page, school_page, live_server.url, cast, at=check)

    assert checked == [
        "queue",
        "case",
        "address check",
        "address check with errors",
        "school request",
        "school's requests",
        "school's answer",
        "activity",
        "activity with errors",
        "decision",
        "case in monitoring",
    ]
    assert found == {}, "\n".join(f"{name}:\n{violations}" for name, violations in found.items())
