"""A school user sends a notification in a real browser, and every portal page passes axe-core."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ehe_register.models import LocalAuthority, OffRollNotification, Person, User
from ehe_register.roles import Role
from ehe_register.validators import year_group
from tests.factories import TEST_PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page: Any, base_url: str, user: User, path: str) -> None:
    page.goto(f"{base_url}{path}")
    page.get_by_label(re.compile(r"^user ?name$", re.IGNORECASE)).fill(user.username)
    page.get_by_label("Password", exact=True).fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}{path}")


def fill_date(scope: Any, question: str, value: date) -> None:
    group = scope.get_by_role("group", name=question, exact=True)
    group.get_by_label("Day").fill(str(value.day))
    group.get_by_label("Month").fill(str(value.month))
    group.get_by_label("Year").fill(str(value.year))


def choose(scope: Any, question: str, answer: str) -> None:
    scope.get_by_role("group", name=question, exact=True).get_by_role("radio", name=answer, exact=True).check()


def fill_parent(
    page: Any, number: int, first: str, last: str, relationship: str, phone: str, elsewhere: tuple[str, ...] = ()
) -> None:
    """One parent; ``elsewhere`` is their own address (line 1, town, postcode) when it is not the child's."""
    parent = page.get_by_role("group", name=re.compile(rf"^Parent or carer {number}"))
    parent.get_by_label("First name", exact=True).fill(first)
    parent.get_by_label("Last name", exact=True).fill(last)
    parent.get_by_label("Relationship to the child").select_option(label=relationship)
    choose(parent, "Does this person have parental responsibility?", "Yes")
    choose(parent, "Does the child normally live with this person?", "No" if elsewhere else "Yes")
    choose(parent, "Does this person live at the child's home address?", "No" if elsewhere else "Yes")
    if elsewhere:
        line_1, town, postcode = elsewhere
        parent.get_by_label("Address line 1", exact=True).fill(line_1)
        parent.get_by_label("Town or city").fill(town)
        parent.get_by_label("Postcode").fill(postcode)
    parent.get_by_label("Emergency phone number").fill(phone)


def home_address(page: Any) -> Any:
    return page.get_by_role("group", name="Home address and local authority")


def fill_the_form_with_two_mistakes(page: Any, today: date) -> None:
    """Everything a school would say, except a wrong postcode and a concern without its details."""
    page.get_by_label("Legal first name", exact=True).fill("Ada")
    page.get_by_label("Legal middle names (optional)").fill("Augusta")
    page.get_by_label("Legal last name", exact=True).fill("Lovelace")
    fill_date(page, "Date of birth", date(today.year - 11, 12, 10))
    choose(page, "Sex", "Female")
    page.get_by_label("Unique pupil number (UPN) (optional)").fill("H801200001001")
    page.get_by_label("Year group (optional)").select_option(label="Year 6")

    home_address(page).get_by_label("Address line 1", exact=True).fill("1 High Street")
    home_address(page).get_by_label("Town or city").fill("Guildford")
    home_address(page).get_by_label("Postcode").fill("not a postcode")

    fill_parent(page, 1, "Anne", "Lovelace", "Mother", "07700 900 982")
    fill_parent(page, 2, "Bill", "Lovelace", "Father", "07700 900 983", ("Flat 2, Rose Court", "Woking", "gu21 4aa"))

    fill_date(page, "Date the parent's written notice was received", today - timedelta(days=1))
    choose(
        page,
        "Has the pupil already been removed from the admission register?",
        "The pupil has been removed from the admission register",
    )
    fill_date(page, "Date removed from roll", today)
    page.get_by_label("Yes, I confirm").check()
    page.get_by_label("What reason did the parent give?").select_option(label="Philosophical or preferential")

    choose(page, "Does the child have special educational needs?", "SEN support")
    choose(page, "Is the child known to children's social care?", "Not known to social care")
    choose(page, "Is this a special school place arranged by the local authority?", "No")
    choose(page, "Is a school attendance order in force?", "No")
    choose(page, "Are there any safeguarding concerns?", "Yes")


def fill_the_safeguarding_details(page: Any, today: date) -> None:
    page.get_by_label("What is the nature of the concern?").fill("The child has said they are scared to go home.")
    fill_date(page, "When was the concern last raised?", today - timedelta(days=2))
    referred = page.get_by_role("group", name=re.compile("^Has the concern been referred"))
    referred.get_by_role("radio", name="Yes", exact=True).check()
    fill_date(page, "Date it was referred", today - timedelta(days=1))
    page.get_by_label("Referral reference").fill("CSPA-4821")
    page.get_by_label("Designated safeguarding lead's name").fill("Sam Jones")
    page.get_by_label("Designated safeguarding lead's direct phone number").fill("01632 960 001")


def send_a_notification(page: Any, base_url: str, user: User, at: Callable[[str], None]) -> str:
    """The whole journey; ``at(name)`` is called on each page. Returns the reference shown."""
    today = date.today()
    sign_in(page, base_url, user, "/school/notify/")
    at("form")

    fill_the_form_with_two_mistakes(page, today)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    summary = page.locator(".govuk-error-summary")
    assert summary.get_by_role("heading", name="There is a problem").is_visible()
    assert summary.get_by_role("link").all_inner_texts() == [
        "Enter a real postcode, like SW1A 1AA",
        "Describe the nature of the concern",
        "Enter the date the concern was last raised",
        "Select yes if the concern has been referred",
        "Enter the designated safeguarding lead's name",
        "Enter the designated safeguarding lead's direct phone number",
    ]
    expect(page.locator("#id_postcode_error")).to_have_text("Error: Enter a real postcode, like SW1A 1AA")
    expect(page.locator("#id_concern_nature_error")).to_have_text("Error: Describe the nature of the concern")
    # What was typed is still there, and the summary's links take the user to the field.
    assert page.get_by_label("Legal first name", exact=True).input_value() == "Ada"
    summary.get_by_role("link", name="Enter a real postcode, like SW1A 1AA").click()
    assert page.evaluate("document.activeElement.id") == "id_postcode"
    at("form with errors")

    home_address(page).get_by_label("Postcode").fill("gu1 1aa")
    fill_the_safeguarding_details(page, today)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base_url}/school/notify/check-your-answers/")
    assert page.get_by_role("heading", name="Check your answers before sending the notification").is_visible()
    assert page.get_by_text("GU1 1AA").is_visible()
    # The second parent's own address (regulation 13), as they will be stored.
    their_address = page.locator(".govuk-summary-list__row", has_text="Their address")
    expect(their_address.locator(".govuk-summary-list__value")).to_have_text("Flat 2, Rose CourtWokingGU21 4AA")
    at("check answers")

    page.get_by_role("button", name="Send notification").click()
    page.wait_for_url(re.compile(r"/school/notifications/EHE-\d{3}-\d{6}/confirmation/$"))
    assert page.get_by_role("heading", name="Notification sent").is_visible()
    reference = page.locator(".govuk-panel__body strong").inner_text()
    at("confirmation")

    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Your notifications").click()
    page.wait_for_url(f"{base_url}/school/notifications/")
    assert page.get_by_role("cell", name="Ada Lovelace").is_visible()
    at("list")

    page.get_by_role("link", name=reference).click()
    page.wait_for_url(f"{base_url}/school/notifications/{reference}/")
    assert page.get_by_role("heading", name=f"Notification {reference}").is_visible()
    at("detail")
    return reference


def test_a_school_user_sends_a_notification(page: Any, live_server: Any, la: LocalAuthority) -> None:
    user = make_user(Role.SCHOOL_USER, la)
    blocked: list[str] = []
    page.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )

    reference = send_a_notification(page, live_server.url, user, at=lambda name: None)

    assert re.fullmatch(r"EHE-936-\d{6}", reference)
    notification = OffRollNotification.objects.get(reference=reference)
    assert notification.submitted_by == user
    assert notification.postcode == "GU1 1AA"
    assert notification.upn == "H801200001001"
    assert notification.safeguarding_concerns is True
    assert notification.episode is not None
    assert notification.snapshot["referral_reference"] == ["CSPA-4821"]
    bill = Person.objects.get(first_name="Bill")
    assert (bill.address_line_1, bill.address_town, bill.postcode) == ("Flat 2, Rose Court", "Woking", "GU21 4AA")
    assert notification.child is not None
    child = notification.child
    assert child.school_year_group == "6"
    assert child.derived_year_group == year_group(child.date_of_birth, timezone.localdate(notification.submitted_at))
    assert blocked == []  # the pages work under the service's own Content Security Policy


def test_every_portal_page_passes_axe(
    axe_page: Any, live_server: Any, la: LocalAuthority, axe_violations: Callable[[Any], str]
) -> None:
    user = make_user(Role.SCHOOL_USER, la)
    found: dict[str, str] = {}

    def check(name: str) -> None:
        if violations := axe_violations(axe_page):
            found[name] = violations

    send_a_notification(axe_page, live_server.url, user, at=check)
    assert found == {}, "\n".join(f"{name}:\n{violations}" for name, violations in found.items())


def test_answers_are_revealed_under_their_radio_without_aria_expanded(
    page: Any, live_server: Any, la: LocalAuthority
) -> None:
    """The safeguarding details show only while "Yes" is chosen; the radio says what it controls
    (aria-controls) and carries no aria-expanded, which ARIA does not allow on a radio."""
    sign_in(page, live_server.url, make_user(Role.SCHOOL_USER, la), "/school/notify/")
    question = "Are there any safeguarding concerns?"
    yes = page.get_by_role("group", name=question, exact=True).get_by_role("radio", name="Yes", exact=True)
    details = page.locator("#conditional-id_safeguarding_concerns_0")

    expect(details).to_be_hidden()
    choose(page, question, "Yes")
    expect(details).to_be_visible()
    page.locator("#id_safeguarding_concerns_1").check()  # "No" (the details hold another yes/no)
    expect(details).to_be_hidden()

    assert yes.get_attribute("aria-controls") == "conditional-id_safeguarding_concerns_0"
    assert page.locator("input[type=radio][aria-expanded]").count() == 0
