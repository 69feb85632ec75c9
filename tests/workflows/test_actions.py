"""Recording work and decisions on a case, over HTTP, as officers, managers and the front door do it.

Every test re-reads the episode with ``Episode.objects.get`` so that it sees what was committed.
"""

from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ehe_register.models import (
    AddressCheck,
    CheckMethod,
    CheckOutcome,
    LocalAuthority,
    OffRollNotification,
    ReasonCode,
    RemovalStatus,
    Routing,
    SchoolContactRequest,
    User,
)
from ehe_register.roles import Role
from notifications.models import Message
from tests.factories import AddressFactory, ChildFactory, SchoolFactory, UserFactory, make_episode, make_user
from workflows.models import Activity, Episode, Escalation, Review, TransitionLog
from workflows.services.escalations import escalation_raise
from workflows.services.intake import episode_open
from workflows.states import ClosureReason, Source, State
from workflows.views.actions import CLOSE_BLOCKED, MERGE_TRANSITIONS, PAGES, case_url, user_transition_names

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")


# --- Helpers ---------------------------------------------------------------------------------------


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def day(name: str, value: date) -> dict[str, Any]:
    return {f"{name}_day": value.day, f"{name}_month": value.month, f"{name}_year": value.year}


def fresh(episode: Episode) -> Episode:
    return Episode.objects.get(pk=episode.pk)


def transition_url(episode: Episode, name: str) -> str:
    return reverse("cases:transition", kwargs={"pk": episode.pk, "name": name})


def activity_url(episode: Episode) -> str:
    return reverse("cases:activity_new", kwargs={"pk": episode.pk})


def check_url(episode: Episode) -> str:
    return reverse("cases:address_check_new", kwargs={"pk": episode.pk})


def request_url(episode: Episode) -> str:
    return reverse("cases:school_request_new", kwargs={"pk": episode.pk})


def flashes(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def succeeded(response: Any, episode: Episode) -> list[str]:
    if response.status_code != 302:
        content = response.content.decode()
        raise AssertionError(re.sub(r"\s+", " ", content[content.find("<main") :][:2500]))
    assert response["Location"] == case_url(episode.pk)
    return flashes(response)


def errors_of(response: Any) -> str:
    assert response.status_code == 200
    content = response.content.decode()
    assert "There is a problem" in content
    return content


def activity_data(episode: Episode, **overrides: Any) -> dict[str, Any]:
    return {
        "version": episode.version,
        "kind": "phone_call",
        **day("occurred_on", timezone.localdate()),
        "occurred_time": "",
        "outcome": "parent_reached",
        "summary": "Spoke with mum about the plans for home education",
        **overrides,
    }


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la, first_name="Priya", last_name="Shah")


@pytest.fixture
def manager(la: LocalAuthority) -> User:
    return make_user(Role.EHE_MANAGER, la, first_name="Morgan", last_name="Hale")


@pytest.fixture
def duty_worker(la: LocalAuthority) -> User:
    return make_user(Role.CSPA_DUTY_WORKER, la, first_name="Dev", last_name="Patel")


# --- The pages are the machine's user transitions ---------------------------------------------------


def test_there_is_one_page_per_user_transition() -> None:
    assert set(PAGES) | MERGE_TRANSITIONS == user_transition_names()
    assert "risk_check" not in user_transition_names()


@pytest.mark.parametrize("name", ["risk_check", "review_falls_due", "contacts_went_stale", "imported", "nonsense"])
def test_a_name_that_is_not_a_user_transition_is_not_found(la: LocalAuthority, officer: User, name: str) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    assert signed_in(officer).get(transition_url(episode, name)).status_code == 404


@pytest.mark.parametrize("name", sorted(MERGE_TRANSITIONS))
def test_merge_pages_go_to_the_merge_page(la: LocalAuthority, manager: User, name: str) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    response = signed_in(manager).get(transition_url(episode, name))
    assert (response.status_code, response["Location"]) == (302, reverse("cases:merge", kwargs={"pk": episode.pk}))


def test_another_las_case_is_not_found(la: LocalAuthority, other_la: LocalAuthority) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    stranger = signed_in(make_user(Role.EHE_MANAGER, other_la))
    for url in (activity_url(episode), check_url(episode), request_url(episode), transition_url(episode, "close")):
        assert stranger.get(url).status_code == 404
        assert stranger.post(url, {"version": episode.version}).status_code == 404


@pytest.mark.parametrize(
    ("role", "name", "state"),
    [
        (Role.AUDITOR, "close", State.EDUCATION_ENQUIRY),
        (Role.HEAD_OF_SERVICE, "close", State.EDUCATION_ENQUIRY),
        (Role.CSPA_DUTY_WORKER, "provision_suitable", State.EDUCATION_ENQUIRY),
        (Role.EHE_OFFICER, "cspa_decision", State.SAFEGUARDING_REVIEW),
        (Role.EHE_OFFICER, "consent_granted", State.AWAITING_CONSENT),
        (Role.EHE_OFFICER, "sao_served", State.S437_NOTICE),
        (Role.EHE_OFFICER, "reopen", State.CLOSED),
        (Role.AUDITOR, "cspa_decision", State.SAFEGUARDING_REVIEW),
    ],
)
def test_a_role_that_cannot_make_the_transition_is_forbidden(
    la: LocalAuthority, role: Role, name: str, state: str
) -> None:
    episode = make_episode(state, la=la)
    client = signed_in(make_user(role, la))
    assert client.get(transition_url(episode, name)).status_code == 403
    assert client.post(transition_url(episode, name), {"version": episode.version}).status_code == 403
    assert fresh(episode).version == episode.version


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.HEAD_OF_SERVICE, Role.SCHOOL_USER])
def test_read_only_roles_and_schools_cannot_record_work(la: LocalAuthority, role: Role) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    client = signed_in(make_user(role, la))
    for url in (activity_url(episode), check_url(episode), request_url(episode)):
        assert client.get(url).status_code == 403
        assert client.post(url, activity_data(episode)).status_code == 403
    assert not Activity.objects.filter(episode=episode).exists()


def test_a_school_user_cannot_reach_a_decision_page(la: LocalAuthority) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    assert signed_in(make_user(Role.SCHOOL_USER, la)).get(transition_url(episode, "close")).status_code == 403


def test_a_transition_not_possible_from_the_state_sends_the_user_back_with_the_reason(
    la: LocalAuthority, officer: User
) -> None:
    episode = make_episode(State.MONITORING, la=la)
    response = signed_in(officer).get(transition_url(episode, "cannot_locate"))
    assert flashes(response) == ["This case is monitoring, so you cannot do this now."]
    assert response.status_code == 302


# --- Recording work ----------------------------------------------------------------------------------


def test_an_officer_records_a_call_and_the_first_contact(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    page = signed_in(officer).get(activity_url(episode))
    assert page.status_code == 200
    assert f'name="version" value="{episode.version}"' in page.content.decode()

    yesterday = timezone.localdate() - timedelta(days=1)
    data = activity_data(episode, occurred_time="09:30", **day("occurred_on", yesterday))
    response = signed_in(officer).post(activity_url(episode), data)

    assert succeeded(response, episode) == ["Phone call recorded."]
    activity = Activity.objects.get(episode=episode)
    assert (activity.kind, activity.outcome, activity.recorded_by) == ("phone_call", "parent_reached", officer)
    assert timezone.localtime(activity.occurred_at).strftime("%H:%M") == "09:30"
    after = fresh(episode)
    assert after.first_contact_at == activity.occurred_at
    assert (after.version, after.last_changed_by) == (episode.version + 1, officer)


def test_a_home_visit_records_the_child_seen_alone_and_their_views(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    data = activity_data(
        episode, kind="home_visit", child_seen="on", child_seen_alone="on", child_views="Likes learning at home"
    )
    succeeded(signed_in(officer).post(activity_url(episode), data), episode)
    activity = Activity.objects.get(episode=episode)
    assert (activity.child_seen, activity.child_seen_alone, activity.child_views) == (
        True,
        True,
        "Likes learning at home",
    )
    assert fresh(episode).child_seen_at_home_at == activity.occurred_at


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"child_seen_alone": "on"}, "A child seen alone must also be recorded as seen"),
        ({"child_seen": "on"}, "Only a home visit or a meeting can record that the child was seen"),
        ({"summary": ""}, "Enter a summary of the contact"),
        ({"kind": ""}, "Select what kind of contact it was"),
        ({"occurred_time": "25:00"}, "Enter a time in the 24-hour clock, like 09:30 or 14:30"),
        (
            {**day("occurred_on", date.today() + timedelta(days=2))},
            "The date and time of the contact must be in the past",
        ),
    ],
)
def test_an_activity_the_form_refuses_is_shown_with_what_was_typed(
    la: LocalAuthority, officer: User, overrides: dict[str, Any], message: str
) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    data = activity_data(episode, summary="Typed before the mistake") | overrides
    content = errors_of(signed_in(officer).post(activity_url(episode), data))
    assert message in content
    if overrides.get("summary") != "":
        assert "Typed before the mistake" in content
    assert not Activity.objects.filter(episode=episode).exists()


def test_a_safeguarding_concern_on_an_activity_goes_to_the_front_door_at_once(
    la: LocalAuthority, officer: User, duty_worker: User
) -> None:
    episode = make_episode(State.MONITORING, la=la)
    data = activity_data(episode, safeguarding_concern="on", summary="Bruising seen on a visit", kind="home_visit")

    response = signed_in(officer).post(activity_url(episode), data)

    assert succeeded(response, episode) == ["Home visit recorded. The case has gone to the front door for a decision."]
    after = fresh(episode)
    assert (after.state, after.resume_state) == (State.SAFEGUARDING_REVIEW, State.MONITORING)
    assert Escalation.objects.get(episode=episode, rule="concern_ticked", resolved_at__isnull=True)
    assert Message.objects.filter(recipient_email=la.front_door_email, template="emails/escalation_front_door").exists()


def test_a_failed_contact_makes_the_details_stale(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.MONITORING, la=la)
    data = activity_data(episode, kind="letter", outcome="letter_returned", summary="Letter came back")
    assert succeeded(signed_in(officer).post(activity_url(episode), data), episode) == [
        "Letter recorded. The contact details are now marked as stale."
    ]
    after = fresh(episode)
    assert after.contacts_stale_at is not None
    assert after.state == State.ADDRESS_VERIFICATION
    assert Escalation.objects.filter(episode=episode, rule="contacts_stale", resolved_at__isnull=True).exists()


def test_the_front_door_can_record_an_activity(la: LocalAuthority, duty_worker: User) -> None:
    episode = make_episode(State.SAFEGUARDING_REVIEW, la=la)
    succeeded(signed_in(duty_worker).post(activity_url(episode), activity_data(episode)), episode)
    assert Activity.objects.filter(episode=episode, recorded_by=duty_worker).exists()


def test_no_work_is_recorded_on_a_closed_case(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.CLOSED, la=la)
    response = signed_in(officer).get(activity_url(episode))
    assert response.status_code == 302
    assert flashes(response) == ["This case is closed. Reopen it before recording work on it"]


# --- Address checks ------------------------------------------------------------------------------


def check_data(episode: Episode, **overrides: Any) -> dict[str, Any]:
    return {
        "version": episode.version,
        "method": CheckMethod.FAMILY,
        "outcome": CheckOutcome.CONFIRMED,
        **day("checked_on", timezone.localdate()),
        "notes": "",
        **overrides,
    }


@pytest.fixture
def new_case(la: LocalAuthority) -> Episode:
    child = ChildFactory(local_authority=la)
    AddressFactory(child=child, line_1="12 Acacia Avenue", postcode="GU1 4AB")
    episode = episode_open(
        child=child, source=Source.SCHOOL, received_on=timezone.localdate(), as_of=timezone.now() - timedelta(hours=2)
    )
    assert episode.state == State.ADDRESS_VERIFICATION
    return fresh(episode)


def test_family_and_home_visit_checks_verify_and_move_the_case_on(new_case: Episode, officer: User) -> None:
    client = signed_in(officer)
    assert succeeded(client.post(check_url(new_case), check_data(new_case)), new_case) == ["Address check recorded."]
    new_case = fresh(new_case)
    assert new_case.state == State.ADDRESS_VERIFICATION

    response = signed_in(officer).post(check_url(new_case), check_data(new_case, method=CheckMethod.HOME_VISIT))

    assert succeeded(response, new_case) == [
        "Address check recorded. The contact details are verified and the case has moved on to the education enquiry."
    ]
    after = fresh(new_case)
    assert after.state == State.EDUCATION_ENQUIRY
    assert after.contacts_verified_at is not None
    assert list(AddressCheck.objects.filter(episode=new_case).values_list("method", flat=True).order_by("pk")) == [
        CheckMethod.FAMILY,
        CheckMethod.HOME_VISIT,
    ]


def test_a_changed_address_becomes_the_current_one(new_case: Episode, officer: User) -> None:
    data = check_data(
        new_case, outcome=CheckOutcome.CHANGED, line_1="3 New Street", town="Guildford", postcode="gu28xx"
    )
    assert succeeded(signed_in(officer).post(check_url(new_case), data), new_case) == [
        "Address check recorded. The new address is now the current one."
    ]
    current = new_case.child.addresses.get(kind="current")
    assert (current.line_1, current.postcode) == ("3 New Street", "GU2 8XX")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"outcome": CheckOutcome.CHANGED}, "Enter the first line of the new address"),
        (
            {"outcome": CheckOutcome.CHANGED, "line_1": "3 New Street", "postcode": "NOPE"},
            "Enter a real postcode, like SW1A 1AA",
        ),
        ({"method": CheckMethod.OTHER_AGENCY}, "Say which agency&#x27;s record you checked"),
        ({"method": ""}, "Select how the details were checked"),
    ],
)
def test_an_address_check_the_form_refuses(
    new_case: Episode, officer: User, overrides: dict[str, Any], message: str
) -> None:
    content = errors_of(signed_in(officer).post(check_url(new_case), check_data(new_case, **overrides)))
    assert message in content
    assert not AddressCheck.objects.filter(episode=new_case).exists()


# --- Asking the school ------------------------------------------------------------------------------


@pytest.fixture
def school(la: LocalAuthority) -> Any:
    return SchoolFactory(local_authority=la, name="Oakfield Academy")


@pytest.fixture
def school_user(school: Any) -> User:
    return UserFactory(local_authority=None, roles=[Role.SCHOOL_USER], schools=[school])


def test_the_school_to_ask_defaults_to_the_notifying_school(la: LocalAuthority, officer: User, school: Any) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la, opened_by_school=school)
    content = signed_in(officer).get(request_url(episode)).content.decode()
    [radio] = re.findall(rf'<input type="radio" name="school" value="{school.pk}"[^>]*>', content)
    assert radio.endswith(" checked>")
    assert content.count(" checked>") == 1
    assert "Oakfield Academy" in content


def notified_by(school: Any, episode: Episode, reference: str, at: datetime) -> None:
    OffRollNotification.objects.create(
        reference=reference,
        school=school,
        submitted_by=UserFactory(local_authority=None, roles=[Role.SCHOOL_USER], schools=[school]),
        submitted_at=at,
        snapshot={},
        residence_la=episode.local_authority,
        routing=Routing.THIS_DEPLOYMENT,
        child=episode.child,
        episode=episode,
        legal_first_name=episode.child.legal_first_name,
        legal_last_name=episode.child.legal_last_name,
        date_of_birth=episode.child.date_of_birth,
        notice_received_on=at.date(),
        removal_status=RemovalStatus.WAITING,
        reason_code=ReasonCode.PHILOSOPHICAL,
        safeguarding_concerns=False,
    )


def test_without_a_notifying_school_the_latest_notifications_school_is_the_default(
    la: LocalAuthority, officer: User
) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la)
    older, latest = SchoolFactory(local_authority=la), SchoolFactory(local_authority=la, name="Latest School")
    notified_by(older, episode, "EHE-936-000001", timezone.now() - timedelta(days=400))
    notified_by(latest, episode, "EHE-936-000002", timezone.now() - timedelta(days=3))
    content = signed_in(officer).get(request_url(episode)).content.decode()
    [radio] = re.findall(rf'<input type="radio" name="school" value="{latest.pk}"[^>]*>', content)
    assert radio.endswith(" checked>")
    assert f'value="{older.pk}"' in content


def test_an_officer_asks_the_school_and_its_users_are_told_without_the_childs_name(
    la: LocalAuthority, officer: User, school: Any, school_user: User
) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la, opened_by_school=school)
    response = signed_in(officer).post(request_url(episode), {"version": episode.version, "school": school.pk})

    assert succeeded(response, episode) == [
        "Request sent to Oakfield Academy. Its answer will be checked against our address."
    ]
    request = SchoolContactRequest.objects.get(episode=episode)
    assert (request.school, request.requested_by, request.answered_at) == (school, officer, None)
    sent = Message.objects.filter(recipient_user=school_user, template="emails/school_request")
    assert sorted(m.channel for m in sent) == ["email", "in_app"]
    path = reverse("schools:request_answer", kwargs={"pk": request.pk})
    for message in sent:
        assert message.payload == {"request_id": request.pk, "path": path}
    assert fresh(episode).version == episode.version + 1


def test_another_school_can_be_asked_by_urn(la: LocalAuthority, officer: User, school: Any, school_user: User) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la)
    data = {"version": episode.version, "school": "other", "other_urn": school.urn}
    succeeded(signed_in(officer).post(request_url(episode), data), episode)
    assert SchoolContactRequest.objects.get(episode=episode).school == school


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"school": "other", "other_urn": ""}, "Enter the school&#x27;s URN"),
        ({"school": "other", "other_urn": "12"}, "A URN is 6 digits, like 125432"),
        ({"school": "other", "other_urn": "999999"}, "There is no school with that URN"),
    ],
)
def test_asking_a_school_the_form_refuses(
    la: LocalAuthority, officer: User, data: dict[str, str], message: str
) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la)
    assert message in errors_of(signed_in(officer).post(request_url(episode), {"version": episode.version, **data}))


def test_a_school_nobody_uses_and_a_school_already_asked_are_refused(
    la: LocalAuthority, officer: User, school: Any
) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la, opened_by_school=school)
    client = signed_in(officer)
    content = errors_of(client.post(request_url(episode), {"version": episode.version, "school": school.pk}))
    assert "No one at Oakfield Academy uses this service yet. Contact the school another way" in content

    UserFactory(local_authority=None, roles=[Role.SCHOOL_USER], schools=[school])
    succeeded(client.post(request_url(episode), {"version": episode.version, "school": school.pk}), episode)
    episode = fresh(episode)
    content = errors_of(client.post(request_url(episode), {"version": episode.version, "school": school.pk}))
    assert "Oakfield Academy was asked on" in content
    assert "and has not answered yet" in content
    assert SchoolContactRequest.objects.filter(episode=episode).count() == 1


# --- The front door's decision ------------------------------------------------------------------


@pytest.mark.parametrize("resume", [State.EDUCATION_ENQUIRY, State.MONITORING, State.ADDRESS_VERIFICATION])
def test_the_front_door_decision_returns_the_case_to_where_it_was(
    la: LocalAuthority, officer: User, duty_worker: User, resume: str
) -> None:
    episode = make_episode(resume, la=la)
    data = activity_data(episode, safeguarding_concern="on")
    succeeded(signed_in(officer).post(activity_url(episode), data), episode)
    episode = fresh(episode)
    assert episode.state == State.SAFEGUARDING_REVIEW

    response = signed_in(duty_worker).post(
        transition_url(episode, "cspa_decision"),
        {"version": episode.version, "decision": "passed_to_social_care", "reference": "SC-123", "note": "Known"},
    )

    label = State(resume).label
    assert succeeded(response, episode) == [
        f"Decision recorded. The safeguarding escalations on this case are resolved. Status: {label}."
    ]
    after = fresh(episode)
    assert (after.state, after.resume_state) == (resume, "")
    escalation = Escalation.objects.get(episode=episode, rule="concern_ticked")
    assert (escalation.decision, escalation.decision_reference) == ("passed_to_social_care", "SC-123")
    assert escalation.resolved_at is not None


def test_a_new_case_needing_consent_goes_to_the_consent_decision_after_the_front_door(
    la: LocalAuthority, duty_worker: User
) -> None:
    episode = make_episode(State.SAFEGUARDING_REVIEW, la=la, resume_state=State.AWAITING_CONSENT)
    escalation_raise(episode=episode, rule_name="social_care_known", as_of=timezone.now())
    response = signed_in(duty_worker).post(
        transition_url(episode, "cspa_decision"), {"version": episode.version, "decision": "no_further_action"}
    )
    succeeded(response, episode)
    assert fresh(episode).state == State.AWAITING_CONSENT
    assert Escalation.objects.filter(episode=episode, rule="consent_required", resolved_at__isnull=True).exists()
    assert not Escalation.objects.filter(episode=episode, rule="social_care_known", resolved_at__isnull=True).exists()


def test_the_head_of_service_may_make_the_front_door_decision(la: LocalAuthority) -> None:
    episode = make_episode(State.SAFEGUARDING_REVIEW, la=la)
    head = make_user(Role.HEAD_OF_SERVICE, la)
    response = signed_in(head).post(
        transition_url(episode, "cspa_decision"), {"version": episode.version, "decision": "no_further_action"}
    )
    succeeded(response, episode)
    assert fresh(episode).state == State.ADDRESS_VERIFICATION


def test_a_decision_to_pass_to_social_care_needs_its_reference(la: LocalAuthority, duty_worker: User) -> None:
    episode = make_episode(State.SAFEGUARDING_REVIEW, la=la)
    content = errors_of(
        signed_in(duty_worker).post(
            transition_url(episode, "cspa_decision"),
            {"version": episode.version, "decision": "already_open", "note": "Open to the locality team"},
        )
    )
    assert "Enter the social care reference" in content
    assert "Open to the locality team" in content
    assert fresh(episode).state == State.SAFEGUARDING_REVIEW


# --- Consent ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "state", "closed"),
    [("consent_granted", State.ADDRESS_VERIFICATION, ""), ("consent_refused", State.CLOSED, "consent_refused")],
)
def test_a_consent_decision_tells_the_school(
    la: LocalAuthority, manager: User, school: Any, school_user: User, name: str, state: str, closed: str
) -> None:
    episode = make_episode(State.AWAITING_CONSENT, la=la, opened_by_school=school)
    escalation_raise(episode=episode, rule_name="consent_required", as_of=timezone.now())
    response = signed_in(manager).post(
        transition_url(episode, name), {"version": episode.version, "reasons": "Met the family and the SENCo"}
    )
    succeeded(response, episode)
    after = fresh(episode)
    assert (after.state, after.closure_reason) == (state, closed)
    told = Message.objects.filter(recipient_user=school_user, template="emails/consent_decision")
    assert sorted(m.channel for m in told) == ["email", "in_app"]
    assert all(m.payload["granted"] is (name == "consent_granted") for m in told)
    assert not Escalation.objects.filter(episode=episode, rule="consent_required", resolved_at__isnull=True).exists()
    log = TransitionLog.objects.get(episode=episode, transition=name)
    assert (log.actor, log.reason) == (manager, "Met the family and the SENCo")


def test_a_consent_decision_needs_reasons(la: LocalAuthority, manager: User) -> None:
    episode = make_episode(State.AWAITING_CONSENT, la=la)
    content = errors_of(
        signed_in(manager).post(transition_url(episode, "consent_granted"), {"version": episode.version})
    )
    assert "Give the reasons for the decision" in content
    assert fresh(episode).state == State.AWAITING_CONSENT


def test_consent_cannot_be_refused_while_a_safeguarding_escalation_is_open(la: LocalAuthority, manager: User) -> None:
    episode = make_episode(State.AWAITING_CONSENT, la=la)
    escalation_raise(episode=episode, rule_name="social_care_known", as_of=timezone.now())
    content = errors_of(
        signed_in(manager).post(
            transition_url(episode, "consent_refused"), {"version": episode.version, "reasons": "Typed reasons"}
        )
    )
    assert CLOSE_BLOCKED.replace("'", "&#x27;") in content
    assert "Typed reasons" in content
    assert fresh(episode).state == State.AWAITING_CONSENT


# --- Enquiry and review outcomes -------------------------------------------------------------------


def test_suitable_education_sets_the_next_review_twelve_months_on_by_default(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    held = timezone.localdate() - timedelta(days=1)
    response = signed_in(officer).post(
        transition_url(episode, "provision_suitable"), {"version": episode.version, **day("held_on", held)}
    )
    succeeded(response, episode)
    after = fresh(episode)
    assert after.state == State.MONITORING
    assert after.review_due_on == date(held.year + 1, held.month, held.day)
    review = Review.objects.get(episode=episode)
    assert (review.outcome, review.held_on, review.recorded_by) == ("suitable", held, officer)


def test_a_review_with_its_own_next_date(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.REVIEW_DUE, la=la)
    held, then = timezone.localdate(), timezone.localdate() + timedelta(days=180)
    data = {"version": episode.version, **day("held_on", held), **day("next_review_on", then), "notes": "Good work"}
    succeeded(signed_in(officer).post(transition_url(episode, "provision_suitable"), data), episode)
    assert (fresh(episode).state, fresh(episode).review_due_on) == (State.MONITORING, then)


def test_not_yet_shown_keeps_the_enquiry_going_with_a_new_due_date(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    due = timezone.localdate() + timedelta(days=28)
    data = {"version": episode.version, **day("held_on", timezone.localdate()), **day("next_action_due", due)}
    succeeded(signed_in(officer).post(transition_url(episode, "not_yet_shown"), data), episode)
    after = fresh(episode)
    assert (after.state, after.next_action_due) == (State.EDUCATION_ENQUIRY, due)
    assert Review.objects.get(episode=episode).outcome == "not_yet_shown"


def test_not_yet_shown_needs_a_future_due_date(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    data = {"version": episode.version, **day("held_on", timezone.localdate())}
    assert "Enter when the next step is due" in errors_of(
        signed_in(officer).post(transition_url(episode, "not_yet_shown"), data)
    )


def test_unsuitable_education_records_how_and_when_the_s437_notice_was_served(
    la: LocalAuthority, officer: User
) -> None:
    episode = make_episode(State.REVIEW_DUE, la=la)
    served = timezone.localdate() - timedelta(days=1)
    data = {
        "version": episode.version,
        **day("held_on", served),
        **day("s437_served_on", served),
        "s437_served_how": "Recorded or special delivery",
    }
    succeeded(signed_in(officer).post(transition_url(episode, "provision_unsuitable"), data), episode)
    after = fresh(episode)
    assert (after.state, after.s437_served_on, after.s437_served_how) == (
        State.S437_NOTICE,
        served,
        "Recorded or special delivery",
    )


def test_unsuitable_education_needs_how_the_notice_was_served(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    data = {"version": episode.version, **day("held_on", timezone.localdate())}
    content = errors_of(signed_in(officer).post(transition_url(episode, "provision_unsuitable"), data))
    assert "Select how the notice was served" in content


# --- The s437 notice and the school attendance order -----------------------------------------------

SERVED = date(2026, 3, 2)  # a Monday; D + 15 is Tuesday 17 March


def test_an_attendance_order_is_refused_before_d_plus_15_and_allowed_from_it(la: LocalAuthority) -> None:
    episode = make_episode(State.S437_NOTICE, la=la, s437_served_on=SERVED, s437_served_how="By hand")
    manager = make_user(Role.EHE_MANAGER, la)
    url = transition_url(episode, "sao_served")

    with time_machine.travel(datetime(2026, 3, 16, 11, tzinfo=LONDON), tick=False):
        client = signed_in(manager)
        page = client.get(url).content.decode()
        assert "Earliest date an order can be served" in page
        assert "17 March 2026" in page
        assert "A school attendance order cannot be served before 17 March 2026" in page
        refused = client.post(url, {"version": episode.version, **day("served_on", date(2026, 3, 16))})
        assert "A school attendance order cannot be served before 17 March 2026" in errors_of(refused)
        assert fresh(episode).state == State.S437_NOTICE

    with time_machine.travel(datetime(2026, 3, 17, 9, tzinfo=LONDON), tick=False):
        client = signed_in(manager)
        response = client.post(url, {"version": episode.version, **day("served_on", date(2026, 3, 17))})
        assert succeeded(response, episode) == ["School attendance order recorded."]
    after = fresh(episode)
    assert (after.state, after.attendance_order_served_on) == (State.ATTENDANCE_ORDER, date(2026, 3, 17))


def test_the_parent_satisfies_the_la_after_a_notice(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.S437_NOTICE, la=la)
    data = {"version": episode.version, "reason": "Portfolio of work shown"}
    succeeded(signed_in(officer).post(transition_url(episode, "parent_satisfies"), data), episode)
    after = fresh(episode)
    assert after.state == State.MONITORING
    today = timezone.localdate()
    assert after.review_due_on == date(today.year + 1, today.month, today.day)


def test_an_order_complied_with_closes_the_case(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.ATTENDANCE_ORDER, la=la)
    data = {"version": episode.version, "reason": "Back at Oakfield Academy from 1 May"}
    succeeded(signed_in(officer).post(transition_url(episode, "order_complied"), data), episode)
    after = fresh(episode)
    assert (after.state, after.closure_reason) == (State.CLOSED, ClosureReason.RETURNED_TO_SCHOOL)


def test_an_order_revoked_returns_the_case_to_monitoring(la: LocalAuthority, manager: User) -> None:
    episode = make_episode(State.ATTENDANCE_ORDER, la=la)
    then = timezone.localdate() + timedelta(days=90)
    data = {"version": episode.version, "reason": "Court revoked the order", **day("next_review_on", then)}
    succeeded(signed_in(manager).post(transition_url(episode, "order_revoked"), data), episode)
    assert (fresh(episode).state, fresh(episode).review_due_on) == (State.MONITORING, then)


# --- Children missing education -----------------------------------------------------------------


def test_a_child_who_cannot_be_located_and_is_then_found(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    client = signed_in(officer)
    data = {"version": episode.version, "reason": "Three visits, letters returned"}
    succeeded(client.post(transition_url(episode, "cannot_locate"), data), episode)
    episode = fresh(episode)
    assert episode.state == State.MISSING_EDUCATION

    succeeded(
        client.post(transition_url(episode, "located"), {"version": episode.version, "reason": "At nan's"}), episode
    )
    after = fresh(episode)
    assert (after.state, after.contacts_verified_at) == (State.ADDRESS_VERIFICATION, None)


def test_cannot_locate_needs_what_was_done(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la)
    content = errors_of(signed_in(officer).post(transition_url(episode, "cannot_locate"), {"version": episode.version}))
    assert "Say what has been done to find the child" in content


# --- Concerns, closing and reopening ------------------------------------------------------------


def test_raising_a_concern_sends_the_case_to_the_front_door(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.REVIEW_DUE, la=la)
    data = {"version": episode.version, "reason": "Neighbour reports the child is never seen"}
    succeeded(signed_in(officer).post(transition_url(episode, "concern_raised"), data), episode)
    after = fresh(episode)
    assert (after.state, after.resume_state) == (State.SAFEGUARDING_REVIEW, State.REVIEW_DUE)
    assert Escalation.objects.filter(episode=episode, rule="concern_ticked", resolved_at__isnull=True).exists()


def test_an_officer_closes_a_case_with_a_reason(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.MONITORING, la=la)
    data = {"version": episode.version, "closure_reason": ClosureReason.OVER_SCHOOL_AGE}
    assert succeeded(signed_in(officer).post(transition_url(episode, "close"), data), episode) == [
        "The case is closed."
    ]
    after = fresh(episode)
    assert (after.state, after.closure_reason) == (State.CLOSED, ClosureReason.OVER_SCHOOL_AGE)


def test_closing_for_another_reason_needs_the_reason_and_duplicate_is_not_offered(
    la: LocalAuthority, officer: User
) -> None:
    episode = make_episode(State.MONITORING, la=la)
    client = signed_in(officer)
    page = client.get(transition_url(episode, "close")).content.decode()
    assert 'value="duplicate"' not in page
    content = errors_of(
        client.post(transition_url(episode, "close"), {"version": episode.version, "closure_reason": "other"})
    )
    assert "Say why the case is closing" in content
    content = errors_of(
        client.post(transition_url(episode, "close"), {"version": episode.version, "closure_reason": "duplicate"})
    )
    assert "Select a valid choice" in content
    assert fresh(episode).state == State.MONITORING


def test_a_case_cannot_close_while_a_safeguarding_escalation_is_open(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.SAFEGUARDING_REVIEW, la=la)
    escalation_raise(episode=episode, rule_name="concern_ticked", as_of=timezone.now())
    client = signed_in(officer)
    message = CLOSE_BLOCKED.replace("'", "&#x27;")
    assert message in client.get(transition_url(episode, "close")).content.decode()

    data = {"version": episode.version, "closure_reason": "other", "closure_text": "Family moved to Spain"}
    content = errors_of(client.post(transition_url(episode, "close"), data))

    assert message in content
    assert "Family moved to Spain" in content
    assert fresh(episode).state == State.SAFEGUARDING_REVIEW
    assert CLOSE_BLOCKED == (
        "You cannot close this case while a safeguarding escalation is open. The front door must decide first."
    )


def test_a_manager_reopens_a_case_closed_in_error_and_the_risk_check_runs_again(
    la: LocalAuthority, manager: User
) -> None:
    episode = make_episode(State.CLOSED, la=la)
    data = {"version": episode.version, "reason": "Closed on the wrong child"}
    assert succeeded(signed_in(manager).post(transition_url(episode, "reopen"), data), episode) == [
        "The case is reopened and the risk check has run again. Status: Address verification."
    ]
    after = fresh(episode)
    assert (after.state, after.closure_reason) == (State.ADDRESS_VERIFICATION, "")
    assert [log.transition for log in TransitionLog.objects.filter(episode=episode).order_by("id")][-2:] == [
        "reopen",
        "risk_check",
    ]


def test_reopening_needs_a_reason_and_a_merged_case_is_not_reopened(la: LocalAuthority, manager: User) -> None:
    episode = make_episode(State.CLOSED, la=la)
    content = errors_of(signed_in(manager).post(transition_url(episode, "reopen"), {"version": episode.version}))
    assert "Say why the closure was made in error" in content

    merged = make_episode(
        State.CLOSED, la=la, closure_reason=ClosureReason.DUPLICATE, state_before_merge=State.MONITORING
    )
    data = {"version": merged.version, "reason": "Oops"}
    content = errors_of(signed_in(manager).post(transition_url(merged, "reopen"), data))
    assert "A case closed as a duplicate is reopened by undoing the merge." in content
    assert fresh(merged).state == State.CLOSED


def test_a_case_is_not_reopened_while_the_child_has_another_open_case(la: LocalAuthority, manager: User) -> None:
    closed = make_episode(State.CLOSED, la=la)
    make_episode(State.MONITORING, child=closed.child)
    data = {"version": closed.version, "reason": "Closed in error"}
    content = errors_of(signed_in(manager).post(transition_url(closed, "reopen"), data))
    assert "This child already has an open case. Record the work on that case instead of reopening this one" in content
    assert fresh(closed).state == State.CLOSED


def test_an_optional_review_date_must_be_a_real_date(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    data = {
        "version": episode.version,
        **day("held_on", timezone.localdate()),
        "next_review_on_day": "31",
        "next_review_on_year": "2030",
    }
    content = errors_of(signed_in(officer).post(transition_url(episode, "provision_suitable"), data))
    assert "Next review date must include a month" in content


def test_the_contacts_verified_page_explains_that_verification_is_automatic(new_case: Episode, officer: User) -> None:
    content = signed_in(officer).get(transition_url(new_case, "contacts_verified")).content.decode()
    assert "They are verified automatically once they have been confirmed with the family" in content
    assert reverse("cases:address_check_new", kwargs={"pk": new_case.pk}) in content


def test_a_case_whose_checks_verify_it_can_be_moved_on_by_hand(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la, contacts_verified_at=timezone.now())
    page = signed_in(officer).get(transition_url(episode, "contacts_verified")).content.decode()
    assert "Move on to the education enquiry" in page
    response = signed_in(officer).post(transition_url(episode, "contacts_verified"), {"version": episode.version})
    assert succeeded(response, episode) == ["The case has moved on to the education enquiry."]
    assert fresh(episode).state == State.EDUCATION_ENQUIRY


# --- Two people at once ---------------------------------------------------------------------------


def test_the_second_of_two_people_is_told_who_changed_the_case_and_keeps_what_they_typed(
    la: LocalAuthority, officer: User, manager: User
) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    with time_machine.travel(datetime(2026, 5, 6, 10, 15, tzinfo=LONDON), tick=False):
        first, second = signed_in(officer), signed_in(manager)
        for client in (first, second):
            assert f'name="version" value="{episode.version}"' in client.get(activity_url(episode)).content.decode()

        succeeded(first.post(activity_url(episode), activity_data(episode, summary="First call")), episode)
        response = second.post(activity_url(episode), activity_data(episode, summary="Second call typed by Morgan"))

    content = errors_of(response)
    assert "This case was changed by Priya Shah at 10:15. Reload to see the change." in content
    assert "Second call typed by Morgan" in content
    assert list(Activity.objects.filter(episode=episode).values_list("summary", flat=True)) == ["First call"]


def test_a_stale_decision_is_refused_with_the_name_of_who_changed_the_case(
    la: LocalAuthority, officer: User, manager: User
) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    with time_machine.travel(datetime(2026, 5, 6, 14, 2, tzinfo=LONDON), tick=False):
        succeeded(signed_in(officer).post(activity_url(episode), activity_data(episode)), episode)
        data = {"version": episode.version, "reason": "Typed by Morgan before reloading"}
        content = errors_of(signed_in(manager).post(transition_url(episode, "cannot_locate"), data))
    assert "This case was changed by Priya Shah at 14:02. Reload to see the change." in content
    assert "Typed by Morgan before reloading" in content
    assert fresh(episode).state == State.EDUCATION_ENQUIRY


# Real transactions, so that the two requests really wait on each other's row lock. (Not
# serialized_rollback: a flush by an earlier transactional test re-creates content types under new
# ids, and reloading the serialized ones then collides with them.)
@pytest.mark.django_db(transaction=True)
def test_two_people_posting_at_the_same_moment_one_wins_and_the_other_is_told(settings: Any) -> None:
    la = LocalAuthority.objects.create(dfe_code="937", ons_code="E99999937", name="Concurrentshire", uses_service=True)
    people = {
        "ann": make_user(Role.EHE_OFFICER, la, first_name="Ann", last_name="Lee"),
        "bob": make_user(Role.EHE_MANAGER, la, first_name="Bob", last_name="Ray"),
    }
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    clients = {key: signed_in(user) for key, user in people.items()}
    start = threading.Barrier(2)
    responses: dict[str, Any] = {}

    def post(key: str) -> None:
        from django.db import connection

        try:
            start.wait(timeout=10)
            responses[key] = clients[key].post(activity_url(episode), activity_data(episode, summary=f"Typed by {key}"))
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(key,)) for key in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    winners = [key for key, response in responses.items() if response.status_code == 302]
    assert len(winners) == 1, {k: r.status_code for k, r in responses.items()}
    [winner] = winners
    [loser] = [key for key in people if key != winner]
    after = fresh(episode)
    when = timezone.localtime(after.last_changed_at).strftime("%H:%M")
    content = responses[loser].content.decode()
    name = people[winner].display_name
    assert f"This case was changed by {name} at {when}. Reload to see the change." in content
    assert f"Typed by {loser}" in content
    assert list(Activity.objects.filter(episode=episode).values_list("summary", flat=True)) == [f"Typed by {winner}"]
