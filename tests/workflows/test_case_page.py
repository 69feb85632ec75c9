"""The case page: what it shows, to whom, the transition buttons per role and state, and the
access log."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from ehe_register.models import (
    AccessAction,
    AccessLog,
    Address,
    AddressCheck,
    AddressKind,
    CheckMethod,
    CheckOutcome,
    ChildPerson,
    LocalAuthority,
    OffRollNotification,
    ReasonCode,
    Relationship,
    RemovalStatus,
    Routing,
    SenStatus,
    SocialCareStatus,
    User,
)
from ehe_register.roles import Role
from ehe_register.validators import year_group, year_group_label
from notifications.models import Channel, Message
from tests.factories import AddressFactory, ChildFactory, PersonFactory, make_episode, make_user
from workflows.models import (
    Activity,
    ActivityKind,
    ActivityOutcome,
    Episode,
    Escalation,
    EscalationEvent,
    TransitionLog,
)
from workflows.services.transitions import episode_transition
from workflows.states import ClosureReason, State

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(user: User, episode: Episode) -> str:
    response = client_for(user).get(reverse("cases:detail", kwargs={"pk": episode.pk}))
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    """The page's text with tags removed and whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" ,", ",")


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la, first_name="Olive", last_name="Officer")


@pytest.fixture
def child(la: LocalAuthority) -> Any:
    return ChildFactory(
        local_authority=la,
        legal_first_name="Ada",
        legal_middle_names="Augusta",
        legal_last_name="Lovelace",
        date_of_birth=date(2014, 3, 3),
        upn="H801200001001",
        nhs_number="9434765919",
        sen_status=SenStatus.EHCP,
        social_care_status=SocialCareStatus.CHILD_IN_NEED,
    )


def test_the_child_is_described_in_full(officer: User, child: Any) -> None:
    episode = make_episode(State.MONITORING, child=child)

    shown = text(page(officer, episode))

    assert "3 March 2014" in shown
    assert year_group_label(year_group(child.date_of_birth, timezone.localdate())) in shown
    assert "Ada Augusta Lovelace" in shown
    assert "H801200001001" in shown
    assert "9434765919" in shown
    assert "Education, health and care plan (EHCP)" in shown
    assert "Child in need" in shown
    assert episode.reference in shown


def test_family_and_siblings_with_their_own_cases(la: LocalAuthority, officer: User, child: Any) -> None:
    parent = PersonFactory(local_authority=la, first_name="Annabella", last_name="Milbanke")
    ChildPerson.objects.create(child=child, person=parent, relationship=Relationship.MOTHER)
    sibling = ChildFactory(local_authority=la, legal_first_name="Byron", legal_last_name="Lovelace")
    ChildPerson.objects.create(child=sibling, person=parent, relationship=Relationship.MOTHER)
    stranger = ChildFactory(local_authority=la, legal_first_name="Stranger")
    sibling_case = make_episode(State.REVIEW_DUE, child=sibling)
    episode = make_episode(State.MONITORING, child=child)

    html = page(officer, episode)

    assert "Annabella Milbanke" in html
    assert "Byron Lovelace" in html
    assert reverse("cases:detail", kwargs={"pk": sibling_case.pk}) in html
    assert 'app-tag--review_due">Review due' in html
    assert escape(stranger.full_name) not in html


@pytest.mark.parametrize(
    ("fields", "badge"),
    [
        ({}, "Not verified"),
        ({"contacts_verified_at": timezone.now()}, "Verified"),
        ({"contacts_verified_at": None, "contacts_stale_at": timezone.now()}, "Stale"),
    ],
)
def test_addresses_with_check_history_and_contacts_badge(
    la: LocalAuthority, officer: User, child: Any, fields: dict[str, Any], badge: str
) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, child=child, **fields)
    current = AddressFactory(child=child, local_authority=la, line_1="12 Analytical Street", postcode="GU1 1AA")
    Address.objects.create(
        local_authority=la, child=child, kind=AddressKind.PREVIOUS, line_1="1 Old Road", postcode="GU2 2BB"
    )
    AddressCheck.objects.create(
        address=current,
        episode=episode,
        method=CheckMethod.FAMILY,
        outcome=CheckOutcome.CONFIRMED,
        checked_at=timezone.now(),
        checked_by=officer,
    )

    html = page(officer, episode)

    assert f'app-badge--{ {"Not verified": "unverified", "Verified": "verified", "Stale": "stale"}[badge] }">' in html
    assert f">{badge}</span>" in html
    assert "12 Analytical Street" in html
    assert "1 Old Road" in html
    assert "With the family" in html
    assert "Olive Officer" in html


def test_a_confidential_address_is_shown_to_la_staff_with_a_warning(
    la: LocalAuthority, officer: User, child: Any
) -> None:
    child.confidential_address = True
    child.save()
    AddressFactory(child=child, local_authority=la, line_1="1 Refuge Road")
    episode = make_episode(State.MONITORING, child=child)

    html = page(officer, episode)

    assert "1 Refuge Road" in html
    assert "Confidential address: never share with schools" in html


def test_school_users_never_see_the_case_page(la: LocalAuthority, child: Any) -> None:
    child.confidential_address = True
    child.save()
    AddressFactory(child=child, local_authority=la, line_1="1 Refuge Road")
    episode = make_episode(State.MONITORING, child=child)
    school_user = make_user(Role.SCHOOL_USER, la)

    response = client_for(school_user).get(reverse("cases:detail", kwargs={"pk": episode.pk}))

    assert response.status_code == 403
    assert b"Refuge Road" not in response.content


def test_another_las_user_gets_404(la: LocalAuthority, other_la: LocalAuthority, child: Any) -> None:
    episode = make_episode(State.MONITORING, child=child)
    stranger = make_user(Role.EHE_MANAGER, other_la)

    response = client_for(stranger).get(reverse("cases:detail", kwargs={"pk": episode.pk}))

    assert response.status_code == 404
    assert not AccessLog.objects.exists()


@pytest.mark.parametrize(
    "role",
    [Role.EHE_OFFICER, Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER, Role.EHE_MANAGER, Role.HEAD_OF_SERVICE, Role.AUDITOR],
)
def test_every_view_of_the_case_page_writes_an_access_log_row(la: LocalAuthority, child: Any, role: Role) -> None:
    episode = make_episode(State.MONITORING, child=child)
    user = make_user(role, la)
    url = reverse("cases:detail", kwargs={"pk": episode.pk})

    client = client_for(user)
    client.get(url)
    client.get(url)

    rows = list(AccessLog.objects.filter(user=user))
    assert len(rows) == 2
    assert {(r.child_id, r.action, r.path, r.local_authority_id) for r in rows} == {
        (child.pk, AccessAction.VIEW, url, la.pk)
    }


def test_timeline_shows_transitions_activities_escalations_and_messages_newest_first(
    la: LocalAuthority, officer: User, child: Any
) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, child=child)
    t0 = timezone.now() - timedelta(days=3)
    Activity.objects.create(
        episode=episode,
        kind=ActivityKind.HOME_VISIT,
        occurred_at=t0 + timedelta(days=1),
        summary="Visited; Ada showed her work",
        outcome=ActivityOutcome.PARENT_REACHED,
        recorded_by=officer,
        recorded_at=t0 + timedelta(days=1),
        child_seen=True,
    )
    escalation = Escalation.objects.create(
        episode=episode, local_authority=la, rule="contacts_stale", raised_at=t0 + timedelta(days=2)
    )
    EscalationEvent.objects.create(
        escalation=escalation, kind="raised", level=1, actor_name="EHE register (automatic)", at=t0 + timedelta(days=2)
    )
    Message.objects.create(
        channel=Channel.IN_APP,
        recipient_user=officer,
        local_authority=la,
        template="emails/escalation",
        payload={
            "rule": "contacts_stale",
            "summary": "Contact details have gone stale",
            "level": 1,
            "episode_id": episode.pk,
            "case_reference": episode.reference,
            "due_at": None,
        },
        next_attempt_at=t0,
        created_at=t0 + timedelta(days=2, minutes=1),
        idempotency_key="test-message",
    )
    manager = make_user(Role.EHE_MANAGER, la)
    episode_transition(
        episode_id=episode.pk,
        transition="provision_suitable",
        actor=manager,
        expected_version=None,
        next_review_on=date(2027, 9, 1),
        reason="Good provision",
    )

    shown = text(page(officer, episode))

    positions = [
        shown.index("Record suitable education: Education enquiry to Monitoring"),
        shown.index("Imported: Notified to Education enquiry"),
        shown.index("Message sent:"),
        shown.index("Escalation raised: Contact details have gone stale"),
        shown.index("Home visit: Spoke with a parent or carer"),
    ]
    assert positions == sorted(positions)
    assert "Visited; Ada showed her work" in shown
    assert "Child seen" in shown
    assert "Good provision" in shown


def test_previous_involvement_is_summarised_at_the_top(la: LocalAuthority, officer: User, child: Any) -> None:
    earlier = make_episode(
        State.CLOSED,
        child=child,
        closed_with_concerns=True,
        closure_reason=ClosureReason.RETURNED_TO_SCHOOL,
        closure_text="",
        closed_at=datetime(2023, 7, 20, 12, tzinfo=LONDON),
    )
    Activity.objects.create(
        episode=earlier,
        kind=ActivityKind.PHONE_CALL,
        occurred_at=datetime(2023, 6, 1, 10, tzinfo=LONDON),
        summary="Neighbour worried about bruising",
        outcome=ActivityOutcome.OTHER,
        recorded_by=officer,
        recorded_at=datetime(2023, 6, 1, 10, tzinfo=LONDON),
        safeguarding_concern=True,
    )
    Escalation.objects.create(
        episode=earlier,
        local_authority=la,
        rule="concern_ticked",
        raised_at=datetime(2023, 6, 1, 10, tzinfo=LONDON),
        resolved_at=datetime(2023, 6, 2, 10, tzinfo=LONDON),
        decision="passed_to_social_care",
    )
    school_user = make_user(Role.SCHOOL_USER, la)
    school = school_user.schools.get()
    OffRollNotification.objects.create(
        reference="EHE-936-000777",
        school=school,
        submitted_by=school_user,
        submitted_at=datetime(2023, 1, 9, 10, tzinfo=LONDON),
        snapshot={},
        residence_la=la,
        routing=Routing.THIS_DEPLOYMENT,
        child=child,
        episode=earlier,
        legal_first_name="Ada",
        legal_last_name="Lovelace",
        date_of_birth=child.date_of_birth,
        notice_received_on=date(2023, 1, 9),
        removal_status=RemovalStatus.REMOVED,
        reason_code=ReasonCode.OTHER,
        safeguarding_concerns=True,
    )
    episode = make_episode(State.SAFEGUARDING_REVIEW, child=child)

    shown = text(page(officer, episode))

    summary = shown[shown.index("Previous involvement") : shown.index("What you can do")]
    assert "1 earlier case closed with concerns" in summary
    assert f"{earlier.reference}, opened" in summary
    assert "closed 20 July 2023 (returned to school)" in summary
    assert "Neighbour worried about bruising" in summary
    assert f"Concern raised 1 June 2023 on {earlier.reference}: decided 2 June 2023 (passed to social care)" in summary
    assert f"{school.name} (URN {school.urn}), last notified 9 January 2023" in summary
    assert "Child in need" in summary
    assert shown.index("Previous involvement") < shown.index("Date of birth")


def test_a_first_case_says_there_is_no_previous_involvement(officer: User, child: Any) -> None:
    episode = make_episode(State.MONITORING, child=child)
    assert "No earlier cases, concerns or school notifications are recorded" in page(officer, episode)


@pytest.mark.parametrize(("role", "shown"), [(Role.EHE_MANAGER, True), (Role.AUDITOR, True), (Role.EHE_OFFICER, False)])
def test_field_history_for_managers_and_auditors(la: LocalAuthority, child: Any, role: Role, shown: bool) -> None:
    episode = make_episode(State.MONITORING, child=child)
    child.nhs_number = "4010232137"
    child.save()

    html = page(make_user(role, la), episode)

    assert ("Field history" in html) is shown
    if shown:
        assert "Nhs number: 9434765919 to 4010232137" in text(html)


# --- The transitions the user may make now, as buttons -----------------------------------------


@pytest.mark.parametrize(
    ("role", "state", "fields", "expected"),
    [
        (Role.EHE_OFFICER, State.ADDRESS_VERIFICATION, {}, {"cannot_locate", "concern_raised", "close"}),
        (
            Role.EHE_OFFICER,
            State.ADDRESS_VERIFICATION,
            {"contacts_verified_at": timezone.now()},
            {"contacts_verified", "cannot_locate", "concern_raised", "close"},
        ),
        (
            Role.EHE_OFFICER,
            State.EDUCATION_ENQUIRY,
            {},
            {"provision_suitable", "not_yet_shown", "cannot_locate", "provision_unsuitable", "concern_raised", "close"},
        ),
        (
            Role.EHE_MANAGER,
            State.AWAITING_CONSENT,
            {},
            {"consent_granted", "consent_refused", "concern_raised", "close", "merge_close"},
        ),
        (Role.CSPA_DUTY_WORKER, State.SAFEGUARDING_REVIEW, {}, {"cspa_decision"}),
        (Role.CSPA_MANAGER, State.SAFEGUARDING_REVIEW, {}, {"cspa_decision"}),
        (Role.HEAD_OF_SERVICE, State.SAFEGUARDING_REVIEW, {}, {"cspa_decision"}),
        (Role.EHE_OFFICER, State.SAFEGUARDING_REVIEW, {}, {"close"}),  # no open safeguarding escalation here
        (Role.CSPA_DUTY_WORKER, State.MONITORING, {}, {"concern_raised"}),
        (Role.AUDITOR, State.MONITORING, {}, set()),
        (Role.EHE_OFFICER, State.S437_NOTICE, {}, {"parent_satisfies", "concern_raised", "close"}),
        (
            Role.EHE_MANAGER,
            State.S437_NOTICE,
            {"s437_served_on": date.today() - timedelta(days=15)},
            {"parent_satisfies", "sao_served", "concern_raised", "close", "merge_close"},
        ),
        (Role.EHE_OFFICER, State.CLOSED, {}, set()),
        (Role.EHE_MANAGER, State.CLOSED, {}, {"reopen"}),
    ],
)
def test_transition_buttons_per_role_and_state(
    la: LocalAuthority, role: Role, state: str, fields: dict[str, Any], expected: set[str]
) -> None:
    episode = make_episode(state, la=la, **fields)

    html = page(make_user(role, la), episode)

    prefix = f"/cases/{episode.pk}/actions/"
    buttons = set(re.findall(rf'href="{prefix}([a-z_]+)/" role="button"', html))
    assert buttons == expected


def test_no_close_button_while_a_safeguarding_escalation_is_open(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.MONITORING, la=la)
    Escalation.objects.create(episode=episode, local_authority=la, rule="concern_ticked", raised_at=timezone.now())

    html = page(officer, episode)

    assert f"/cases/{episode.pk}/actions/close/" not in html
    assert f"/cases/{episode.pk}/actions/concern_raised/" in html


def test_record_links_for_caseworkers_only(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la)

    officer_page = page(officer, episode)
    auditor_page = page(make_user(Role.AUDITOR, la), episode)

    for label in ("Record contact or visit", "Record an address check", "Ask the school to confirm contact details"):
        assert label in officer_page
        assert label not in auditor_page


def test_self_assign_button_only_on_unassigned_cases_for_officers(la: LocalAuthority, officer: User) -> None:
    unassigned = make_episode(State.MONITORING, la=la)
    taken = make_episode(State.MONITORING, la=la, assigned_officer=make_user(Role.EHE_OFFICER, la))

    assert "Assign this case to me" in page(officer, unassigned)
    assert "Assign this case to me" not in page(officer, taken)
    assert "Assign this case to me" not in page(make_user(Role.CSPA_DUTY_WORKER, la), unassigned)
    assert "Save assignment" in page(make_user(Role.EHE_MANAGER, la), taken)
    assert TransitionLog.objects.filter(episode=taken).exists()
