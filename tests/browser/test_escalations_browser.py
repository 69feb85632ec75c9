"""Escalations worked in a real browser (DESIGN section 5, "Who is told", "Acknowledge and decide"):

(a) a school ticks a concern on the portal form; the front door's duty worker finds it under
    "Escalations for you", acknowledges it and records a decision; the escalation is resolved,
    the case moves on, and the front door's inbox got an email with no child's name in it;
(b) a ``social_care_known`` escalation on a case in monitoring is decided by the front door, and
    an officer can then close the case.

axe-core runs on the new pages: the home page's list, the escalation list and page, the case
page with its escalation forms, and the notifications page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from playwright.sync_api import expect

from ehe_register.models import LocalAuthority, OffRollNotification, SocialCareStatus
from ehe_register.roles import Role
from notifications.delivery import message_render
from notifications.models import Message
from tests.browser.test_casework_browser import another_person
from tests.browser.test_portal_browser import choose, send_a_notification, sign_in
from tests.factories import ChildFactory, make_episode, make_user
from workflows.models import Episode, Escalation
from workflows.services.escalations import escalation_raise
from workflows.states import State

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_front_door_works_a_concern_a_school_ticked(
    page: Any, browser: Any, live_server: Any, la: LocalAuthority, axe_violations: Callable[[Any], str]
) -> None:
    school_user = make_user(Role.SCHOOL_USER, la)
    duty = make_user(Role.CSPA_DUTY_WORKER, la, first_name="Dee", last_name="Duty")
    reference = send_a_notification(page, live_server.url, school_user, at=lambda name: None)
    episode = Episode.objects.get(notifications__reference=reference)
    assert episode.state == State.SAFEGUARDING_REVIEW
    escalation = Escalation.objects.get(episode=episode, rule="concern_ticked")
    found: list[str] = []

    with another_person(browser, bypass_csp=True) as front_door:
        sign_in(front_door, live_server.url, duty, "/")
        mine = front_door.get_by_role("region", name="Escalations for you")
        link = mine.get_by_role("link", name=re.compile(re.escape(episode.reference)))
        expect(link).to_be_visible()
        found.append(axe_violations(front_door))

        front_door.goto(f"{live_server.url}/cases/escalations/")
        expect(front_door.get_by_role("heading", name="Escalations for you")).to_be_visible()
        found.append(axe_violations(front_door))
        front_door.get_by_role("link", name=re.compile(re.escape(episode.reference))).click()
        front_door.wait_for_url(f"{live_server.url}/cases/escalations/{escalation.pk}/")
        expect(front_door.get_by_text("The child has said they are scared to go home.")).to_be_visible()
        found.append(axe_violations(front_door))

        front_door.get_by_label("Note").fill("Checking our records and calling the school's DSL")
        front_door.get_by_role("button", name=re.compile("^Acknowledge")).click()
        expect(front_door.get_by_text("Escalation acknowledged on case")).to_be_visible()
        assert Escalation.objects.get(pk=escalation.pk).acknowledged_by == duty

        # An error first: a referral needs its reference.
        choose(front_door, "Decision", "Referred to children's social care")
        front_door.get_by_role("button", name=re.compile("^Record the decision")).click()
        expect(front_door.locator(".govuk-error-summary")).to_contain_text("Enter the social care reference")
        found.append(axe_violations(front_door))
        front_door.get_by_label("Social care reference").fill("CSC-2026-0042")
        front_door.get_by_role("button", name=re.compile("^Record the decision")).click()
        expect(front_door.get_by_text("Decision recorded on case")).to_be_visible()

        front_door.goto(f"{live_server.url}/cases/{episode.pk}/")
        expect(front_door.get_by_role("heading", name="Safeguarding concerns on this case")).to_be_visible()
        found.append(axe_violations(front_door))

    row = Escalation.objects.get(pk=escalation.pk)
    assert (row.decision, row.decision_reference, row.resolved_by_name) == (
        "passed_to_social_care",
        "CSC-2026-0042",
        duty.display_name,
    )
    assert Episode.objects.get(pk=episode.pk).state == State.ADDRESS_VERIFICATION
    [sent] = Message.objects.filter(recipient_email=la.front_door_email)
    email = message_render(sent)
    notification = OffRollNotification.objects.get(reference=reference)
    everything = " ".join([email.subject, email.body, email.alternatives[0][0]])
    assert episode.reference in email.subject
    assert f"/cases/escalations/{escalation.pk}/" in email.body
    for name in (notification.legal_first_name, notification.legal_last_name, "Augusta"):
        assert name not in everything
    assert [f for f in found if f] == []


def test_a_social_care_known_escalation_on_a_monitoring_case_is_decided_and_the_case_closed(
    page: Any, browser: Any, live_server: Any, la: LocalAuthority, axe_violations: Callable[[Any], str]
) -> None:
    duty = make_user(Role.CSPA_DUTY_WORKER, la)
    officer = make_user(Role.EHE_OFFICER, la, first_name="Priya", last_name="Shah")
    child = ChildFactory(local_authority=la, social_care_status=SocialCareStatus.CHILD_IN_NEED)
    episode = make_episode(State.MONITORING, child=child, assigned_officer=officer)
    with transaction.atomic():
        escalation, _ = escalation_raise(episode=episode, rule_name="social_care_known", as_of=episode.opened_at)
    found: list[str] = []

    with another_person(browser, bypass_csp=True) as front_door:
        sign_in(front_door, live_server.url, duty, "/")
        front_door.get_by_role("region", name="Escalations for you").get_by_role(
            "link", name=re.compile(re.escape(episode.reference))
        ).click()
        front_door.wait_for_url(f"{live_server.url}/cases/escalations/{escalation.pk}/")
        choose(front_door, "Decision", "Already open to children's social care")
        front_door.get_by_label("Social care reference").fill("CIN-77")
        front_door.get_by_role("button", name=re.compile("^Record the decision")).click()
        expect(front_door.get_by_text("Decision recorded on case")).to_be_visible()
        expect(front_door.get_by_text("Status: Monitoring")).to_be_visible()
    assert Escalation.objects.get(pk=escalation.pk).resolved_at is not None

    with another_person(browser, bypass_csp=True) as ehe:
        sign_in(ehe, live_server.url, officer, f"/cases/{episode.pk}/")
        ehe.get_by_role("button", name="Close the case").click()
        choose(ehe, "Why is the case closing?", "Returned to school")
        ehe.get_by_role("button", name="Close the case").click()
        expect(ehe.get_by_text("The case is closed.")).to_be_visible()
        ehe.goto(f"{live_server.url}/notifications/")
        found.append(axe_violations(ehe))
    assert Episode.objects.get(pk=episode.pk).state == State.CLOSED
    assert [f for f in found if f] == []
