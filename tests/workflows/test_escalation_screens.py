"""Escalations worked from the screen (DESIGN section 5, "Who is told" and "Acknowledge and
decide"), and every concern kept: the lists, acknowledging, the front door's decision from any
state, the consent decision, the front door's inbox, notifications, and concerns."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ehe_register.models import AccessLog, LocalAuthority, SocialCareStatus, User
from ehe_register.roles import Role
from notifications.delivery import message_render
from notifications.models import Channel, Message
from tests.ehe_register.intake_data import notification_input, with_concern
from tests.factories import ChildFactory, SchoolFactory, make_episode, make_user
from workflows.models import Concern, ConcernSource, Episode, Escalation, EscalationEvent
from workflows.services.casework import ActivityInput, activity_record, episode_concern_raised
from workflows.services.escalations import (
    escalation_acknowledge,
    escalation_decide,
    escalation_raise,
    escalations_climb_due,
    front_door_decide,
)
from workflows.services.submission import notification_submit
from workflows.states import ACTIVE_STATES, ClosureReason, State

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


# Wednesday 25 November 2026, mid-morning: an ordinary working day.
WEDNESDAY_11 = london(2026, 11, 25, 11, 0)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def fresh(row: Any) -> Any:
    return type(row).objects.get(pk=row.pk)


def text_of(response: Any) -> str:
    """The page's visible text, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def staff(la: LocalAuthority) -> dict[str, User]:
    return {
        "officer": make_user(Role.EHE_OFFICER, la, first_name="Olu", last_name="Officer"),
        "colleague": make_user(Role.EHE_OFFICER, la, first_name="Cat", last_name="Colleague"),
        "duty": make_user(Role.CSPA_DUTY_WORKER, la, first_name="Dee", last_name="Duty"),
        "duty2": make_user(Role.CSPA_DUTY_WORKER, la, first_name="Sam", last_name="Second"),
        "cspa_manager": make_user(Role.CSPA_MANAGER, la, first_name="Max", last_name="Cspa"),
        "manager": make_user(Role.EHE_MANAGER, la, first_name="Mo", last_name="Manager"),
        "head": make_user(Role.HEAD_OF_SERVICE, la, first_name="Hal", last_name="Head"),
        "auditor": make_user(Role.AUDITOR, la),
    }


def escalations_url() -> str:
    return reverse("cases:escalations")


def escalation_url(escalation: Escalation, action: str = "") -> str:
    name = f"cases:escalation_{action}" if action else "cases:escalation"
    return reverse(name, kwargs={"pk": escalation.pk})


def raised(episode: Episode, rule: str, as_of: datetime = WEDNESDAY_11) -> Escalation:
    escalation, created = escalation_raise(episode=episode, rule_name=rule, as_of=as_of)
    assert created
    return escalation


# --- Escalations for you: who sees what -----------------------------------------------------------


@pytest.fixture
def board(la: LocalAuthority, other_la: LocalAuthority, staff: dict[str, User]) -> dict[str, Escalation]:
    """One escalation of each kind of owner, plus some that must never show."""
    with time_machine.travel(WEDNESDAY_11, tick=False):
        concern = raised(make_episode(State.SAFEGUARDING_REVIEW, la=la), "concern_ticked")
        consent = raised(make_episode(State.AWAITING_CONSENT, la=la), "consent_required")
        team = raised(make_episode(State.MONITORING, la=la), "contacts_stale")
        own = raised(make_episode(State.MONITORING, la=la, assigned_officer=staff["officer"]), "contacts_stale")
        early = raised(
            make_episode(State.SAFEGUARDING_REVIEW, la=la), "social_care_known", as_of=london(2026, 11, 20, 9, 0)
        )
        elsewhere = raised(make_episode(State.SAFEGUARDING_REVIEW, la=other_la), "concern_ticked")
        resolved = raised(make_episode(State.SAFEGUARDING_REVIEW, la=la), "concern_ticked")
        Escalation.objects.filter(pk=resolved.pk).update(resolved_at=WEDNESDAY_11, resolved_by_name="Someone")
        sen = raised(make_episode(State.MONITORING, la=la), "sen_notify")
    return {
        "concern": concern,
        "consent": consent,
        "team": team,
        "own": own,
        "early": early,
        "elsewhere": elsewhere,
        "resolved": resolved,
        "sen": sen,
    }


def listed(user: User) -> list[int]:
    response = signed_in(user).get(escalations_url())
    assert response.status_code == 200
    return [int(pk) for pk in re.findall(r'href="/cases/escalations/(\d+)/"', response.content.decode())]


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("duty", ["early", "concern"]),
        ("duty2", ["early", "concern"]),
        ("cspa_manager", []),
        ("manager", ["consent"]),
        ("officer", ["team", "own"]),
        ("colleague", ["team"]),
        ("head", []),
    ],
)
def test_each_user_sees_the_escalations_they_or_their_role_own_oldest_due_first(
    who: str, expected: list[str], staff: dict[str, User], board: dict[str, Escalation]
) -> None:
    with time_machine.travel(WEDNESDAY_11 + timedelta(minutes=5), tick=False):
        assert listed(staff[who]) == [board[name].pk for name in expected]


def test_another_las_staff_never_see_this_las_escalations(other_la: LocalAuthority, board: dict[str, Any]) -> None:
    duty_elsewhere = make_user(Role.CSPA_DUTY_WORKER, other_la)
    assert listed(duty_elsewhere) == [board["elsewhere"].pk]
    response = signed_in(duty_elsewhere).get(escalation_url(board["concern"]))
    assert response.status_code == 404


def test_the_auditor_and_school_users_have_no_escalation_list(la: LocalAuthority, staff: dict[str, User]) -> None:
    assert signed_in(staff["auditor"]).get(escalations_url()).status_code == 403
    assert signed_in(make_user(Role.SCHOOL_USER, la)).get(escalations_url()).status_code == 403


def test_a_row_shows_case_level_rule_due_time_and_overdue(staff: dict[str, User], board: dict[str, Any]) -> None:
    with time_machine.travel(london(2026, 11, 25, 12, 0), tick=False):
        page = text_of(signed_in(staff["duty"]).get(escalations_url()))
    early, concern = fresh(board["early"]), fresh(board["concern"])
    assert early.episode.reference in page
    assert concern.episode.reference in page
    assert "A safeguarding concern was ticked" in page
    # social_care_known raised Friday 20 November is due a working day later, 17:00: overdue now.
    assert "23 November 2026 at 5pm" in page
    assert "25 November 2026 at 5pm" in page
    assert page.count("Overdue") == 1


def test_the_list_runs_the_same_queries_however_many_rows(la: LocalAuthority, staff: dict[str, User]) -> None:
    client = signed_in(staff["duty"])
    raised(make_episode(State.SAFEGUARDING_REVIEW, la=la), "concern_ticked")
    client.get(escalations_url())
    with CaptureQueriesContext(connection) as one:
        client.get(escalations_url())
    for _ in range(6):
        raised(make_episode(State.SAFEGUARDING_REVIEW, la=la), "concern_ticked")
    with CaptureQueriesContext(connection) as seven:
        response = client.get(escalations_url())
    assert len(listed(staff["duty"])) == 7
    assert response.status_code == 200
    assert len(seven) == len(one)


@pytest.mark.parametrize("who", ["officer", "duty", "cspa_manager", "manager", "head"])
def test_every_la_home_page_shows_escalations_for_you(who: str, staff: dict[str, User], la: LocalAuthority) -> None:
    rule = {"officer": "contacts_stale", "manager": "consent_required"}.get(who, "concern_ticked")
    state = State.MONITORING if rule == "contacts_stale" else State.SAFEGUARDING_REVIEW
    escalation = raised(make_episode(state, la=la), rule)
    if who in ("cspa_manager", "head"):
        owner = Role.CSPA_MANAGER if who == "cspa_manager" else Role.HEAD_OF_SERVICE
        Escalation.objects.filter(pk=escalation.pk).update(owner_role=owner, level=2 if who == "cspa_manager" else 3)

    response = signed_in(staff[who]).get("/")

    assert "Escalations for you" in text_of(response)
    assert escalation_url(escalation) in response.content.decode()


# --- Acknowledge ---------------------------------------------------------------------------------


def test_the_owner_acknowledges_with_a_note_and_it_is_logged_on_the_case(
    staff: dict[str, User], board: dict[str, Any]
) -> None:
    concern = board["concern"]
    case_page = reverse("cases:detail", kwargs={"pk": concern.episode_id})
    response = signed_in(staff["duty"]).post(
        escalation_url(concern, "acknowledge"),
        {f"escalation-{concern.pk}-note": "Calling the school now", "next": case_page},
    )

    assert response.status_code == 302
    assert response["Location"] == case_page
    row = fresh(concern)
    assert (row.acknowledged_by, row.level, row.resolved_at) == (staff["duty"], 1, None)
    event = EscalationEvent.objects.get(escalation=concern, kind="acknowledged")
    assert (event.actor_name, event.note) == (staff["duty"].display_name, "Calling the school now")
    timeline = text_of(signed_in(staff["duty"]).get(case_page))
    assert "Escalation acknowledged: A safeguarding concern was ticked" in timeline
    assert "Calling the school now" in timeline


def test_an_acknowledgement_needs_a_note(staff: dict[str, User], board: dict[str, Any]) -> None:
    concern = board["concern"]
    response = signed_in(staff["duty"]).post(
        escalation_url(concern, "acknowledge"), {f"escalation-{concern.pk}-note": " "}
    )
    assert response.status_code == 400
    assert "Say what you are doing about it" in text_of(response)
    assert fresh(concern).acknowledged_at is None


@pytest.mark.parametrize("action", ["acknowledge", "decide"])
def test_someone_off_the_ladder_is_refused(action: str, staff: dict[str, User], board: dict[str, Any]) -> None:
    concern = board["concern"]
    data = {f"escalation-{concern.pk}-note": "Mine now", f"escalation-{concern.pk}-decision": "no_further_action"}
    assert signed_in(staff["officer"]).post(escalation_url(concern, action), data).status_code == 403
    # An officer may not act on a colleague's own escalation either.
    own = board["own"]
    assert (
        signed_in(staff["colleague"])
        .post(escalation_url(own, "acknowledge"), {f"escalation-{own.pk}-note": "Mine now"})
        .status_code
        == 403
    )
    assert fresh(concern).acknowledged_at is None
    assert fresh(own).acknowledged_at is None


@pytest.mark.parametrize("action", ["acknowledge", "decide"])
def test_another_las_staff_get_not_found(action: str, other_la: LocalAuthority, board: dict[str, Any]) -> None:
    concern = board["concern"]
    client = signed_in(make_user(Role.CSPA_DUTY_WORKER, other_la))
    data = {f"escalation-{concern.pk}-note": "x", f"escalation-{concern.pk}-decision": "no_further_action"}
    assert client.post(escalation_url(concern, action), data).status_code == 404
    assert fresh(concern).acknowledged_at is None
    assert fresh(concern).resolved_at is None


def test_acknowledging_what_a_colleague_acknowledged_meanwhile_names_them(
    staff: dict[str, User], board: dict[str, Any]
) -> None:
    concern = board["concern"]
    with time_machine.travel(london(2026, 11, 25, 14, 5), tick=False):
        escalation_acknowledge(escalation=fresh(concern), actor=staff["duty2"], as_of=timezone.now())
    response = signed_in(staff["duty"]).post(
        escalation_url(concern, "acknowledge"), {f"escalation-{concern.pk}-note": "On it"}
    )
    assert response.status_code == 409
    assert "acknowledged already by Sam Second at 14:05 on 25 November 2026" in text_of(response)
    assert fresh(concern).acknowledged_by == staff["duty2"]


def test_acting_on_a_resolved_escalation_names_who_resolved_it_and_when(
    staff: dict[str, User], board: dict[str, Any]
) -> None:
    concern = board["concern"]
    with time_machine.travel(london(2026, 11, 25, 15, 30), tick=False):
        front_door_decide(episode_id=concern.episode_id, actor=staff["duty2"], decision="no_further_action")
    client = signed_in(staff["duty"])
    ack = client.post(escalation_url(concern, "acknowledge"), {f"escalation-{concern.pk}-note": "On it"})
    decide = client.post(
        escalation_url(concern, "decide"),
        {
            f"escalation-{concern.pk}-decision": "passed_to_social_care",
            f"escalation-{concern.pk}-reference": "SC-1",
            f"escalation-{concern.pk}-version": fresh(concern.episode).version,
            f"escalation-{concern.pk}-seen_acknowledged": "no",
        },
    )
    for response in (ack, decide):
        assert response.status_code == 409
        assert "resolved by Sam Second at 15:30 on 25 November 2026" in text_of(response)
    assert fresh(concern).decision == "no_further_action"


def test_a_decision_on_a_page_loaded_before_a_colleague_acknowledged_is_refused(
    staff: dict[str, User], board: dict[str, Any]
) -> None:
    concern = board["concern"]
    client = signed_in(staff["duty"])
    page = client.get(escalation_url(concern)).content.decode()
    assert f'name="escalation-{concern.pk}-seen_acknowledged" value="no"' in page
    with time_machine.travel(london(2026, 11, 25, 13, 45), tick=False):
        escalation_acknowledge(escalation=fresh(concern), actor=staff["cspa_manager"], as_of=timezone.now())

    response = client.post(
        escalation_url(concern, "decide"),
        {
            f"escalation-{concern.pk}-decision": "no_further_action",
            f"escalation-{concern.pk}-version": fresh(concern.episode).version,
            f"escalation-{concern.pk}-seen_acknowledged": "no",
        },
    )
    assert response.status_code == 409
    assert "acknowledged by Max Cspa at 13:45" in text_of(response)
    assert fresh(concern).resolved_at is None


# --- Acknowledgement stops the climb ---------------------------------------------------------------


def test_an_acknowledged_level_stays_while_an_unacknowledged_one_climbs(
    la: LocalAuthority, staff: dict[str, User]
) -> None:
    with time_machine.travel(WEDNESDAY_11, tick=False):
        acknowledged = raised(make_episode(State.SAFEGUARDING_REVIEW, la=la), "concern_ticked")
        waiting = raised(make_episode(State.SAFEGUARDING_REVIEW, la=la), "concern_ticked")
        response = signed_in(staff["duty"]).post(
            escalation_url(acknowledged, "acknowledge"), {f"escalation-{acknowledged.pk}-note": "Checking records"}
        )
        assert response.status_code == 302

    # Past the level-1 due time (17:00), and past level 2's too, the next day.
    for moment in (london(2026, 11, 25, 17, 1), london(2026, 11, 26, 17, 1)):
        with time_machine.travel(moment, tick=False):
            escalations_climb_due(as_of=timezone.now(), local_authorities=[la])

    assert (fresh(acknowledged).level, fresh(acknowledged).owner_role) == (1, Role.CSPA_DUTY_WORKER)
    assert (fresh(waiting).level, fresh(waiting).owner_role) == (3, Role.HEAD_OF_SERVICE)
    assert not EscalationEvent.objects.filter(escalation=acknowledged, kind="climbed").exists()
    # It stays on the duty worker's list until it is resolved.
    assert acknowledged.pk in listed(staff["duty"])


# --- The front door's decision, from any state ----------------------------------------------------


def _safeguarding_case(la: LocalAuthority, state: str) -> Episode:
    child = ChildFactory(local_authority=la, social_care_status=SocialCareStatus.CHILD_IN_NEED)
    return make_episode(
        state, child=child, **({"resume_state": State.EDUCATION_ENQUIRY} if state == State.SAFEGUARDING_REVIEW else {})
    )


@pytest.mark.parametrize("state", ACTIVE_STATES)
def test_the_front_door_decision_resolves_every_safeguarding_escalation_from_any_state(
    state: str, la: LocalAuthority, staff: dict[str, User]
) -> None:
    episode = _safeguarding_case(la, state)
    known = raised(episode, "social_care_known")
    concern = raised(episode, "concern_ticked")
    other = raised(episode, "contacts_unverified")
    client = signed_in(staff["duty"])

    response = client.post(
        escalation_url(known, "decide"),
        {
            f"escalation-{known.pk}-decision": "strategy_discussion",
            f"escalation-{known.pk}-reference": "SD-42",
            f"escalation-{known.pk}-version": fresh(episode).version,
            f"escalation-{known.pk}-seen_acknowledged": "no",
        },
    )

    assert response.status_code == 302, text_of(response)
    for escalation in (known, concern):
        row = fresh(escalation)
        assert (row.decision, row.decision_reference, row.resolved_by_name) == (
            "strategy_discussion",
            "SD-42",
            staff["duty"].display_name,
        )
        assert [e.kind for e in row.events.all()][-3:] == ["acknowledged", "decided", "resolved"]
    # The decision is the front door's on safeguarding only: another rule's escalation is not
    # decided by it (the rules, evaluated at the event, may still close one whose condition has gone).
    other_now = fresh(other)
    assert other_now.decision == ""
    assert other_now.resolved_by_name != staff["duty"].display_name
    expected = State.EDUCATION_ENQUIRY if state == State.SAFEGUARDING_REVIEW else state
    assert fresh(episode).state == expected


def test_a_social_care_known_escalation_on_a_monitoring_case_is_decided_then_the_case_closes(
    la: LocalAuthority, staff: dict[str, User]
) -> None:
    episode = _safeguarding_case(la, State.MONITORING)
    known = raised(episode, "social_care_known")
    close = reverse("cases:transition", kwargs={"pk": episode.pk, "name": "close"})
    officer = signed_in(staff["officer"])
    blocked = officer.post(
        close, {"version": fresh(episode).version, "closure_reason": ClosureReason.RETURNED_TO_SCHOOL}
    )
    assert fresh(episode).state == State.MONITORING
    assert "safeguarding escalation is open" in text_of(blocked)

    escalation_decide(escalation_id=known.pk, actor=staff["duty"], decision="already_open", reference="CIN-7")
    response = officer.post(
        close, {"version": fresh(episode).version, "closure_reason": ClosureReason.RETURNED_TO_SCHOOL}
    )

    assert response.status_code == 302
    assert fresh(episode).state == State.CLOSED


def test_the_decision_needs_a_reference_unless_no_further_action(staff: dict[str, User], board: dict[str, Any]) -> None:
    concern = board["concern"]
    response = signed_in(staff["duty"]).post(
        escalation_url(concern, "decide"),
        {
            f"escalation-{concern.pk}-decision": "passed_to_social_care",
            f"escalation-{concern.pk}-version": fresh(concern.episode).version,
            f"escalation-{concern.pk}-seen_acknowledged": "no",
        },
    )
    assert response.status_code == 400
    assert "Enter the social care reference" in text_of(response)
    assert fresh(concern).resolved_at is None


def test_the_decision_can_be_recorded_from_the_case_page(staff: dict[str, User], board: dict[str, Any]) -> None:
    concern = board["concern"]
    case_page = reverse("cases:detail", kwargs={"pk": concern.episode_id})
    client = signed_in(staff["duty"])
    page = client.get(case_page).content.decode()
    assert f'action="{escalation_url(concern, "decide")}"' in page
    assert f'action="{escalation_url(concern, "acknowledge")}"' in page

    response = client.post(
        escalation_url(concern, "decide"),
        {
            f"escalation-{concern.pk}-decision": "no_further_action",
            f"escalation-{concern.pk}-version": fresh(concern.episode).version,
            f"escalation-{concern.pk}-seen_acknowledged": "no",
            "next": case_page,
        },
    )
    assert response["Location"] == case_page
    assert fresh(concern).decision == "no_further_action"
    assert fresh(concern.episode).state == State.ADDRESS_VERIFICATION
    assert "Escalation decided: A safeguarding concern was ticked" in text_of(client.get(case_page))


def test_an_offsite_next_is_ignored(staff: dict[str, User], board: dict[str, Any]) -> None:
    concern = board["concern"]
    response = signed_in(staff["duty"]).post(
        escalation_url(concern, "acknowledge"),
        {f"escalation-{concern.pk}-note": "On it", "next": "https://evil.example.org/"},
    )
    assert response["Location"] == escalation_url(concern)


# --- The consent decision, from the escalation --------------------------------------------------------


def test_the_ehe_manager_decides_consent_from_the_escalation(staff: dict[str, User], board: dict[str, Any]) -> None:
    consent = board["consent"]
    response = signed_in(staff["manager"]).post(
        escalation_url(consent, "decide"),
        {
            f"escalation-{consent.pk}-decision": "granted",
            f"escalation-{consent.pk}-note": "Placement ended; the family has a plan",
            f"escalation-{consent.pk}-version": fresh(consent.episode).version,
            f"escalation-{consent.pk}-seen_acknowledged": "no",
        },
    )
    assert response.status_code == 302, text_of(response)
    row = fresh(consent)
    assert (row.decision, row.resolved_by_name) == ("granted", staff["manager"].display_name)
    assert fresh(consent.episode).state == State.ADDRESS_VERIFICATION


def test_the_head_of_service_sees_consent_but_the_decision_is_the_managers(
    staff: dict[str, User], board: dict[str, Any]
) -> None:
    consent = board["consent"]
    page = text_of(signed_in(staff["head"]).get(escalation_url(consent)))
    assert "The consent decision is made by an EHE manager." in page
    assert "Acknowledge" in page


# --- The front door's inbox, and who is told -----------------------------------------------------------

NON_LATIN_CHILD = {"legal_first_name": "Ярослава", "legal_last_name": "Өлзийбаяр", "preferred_first_name": "Ярося"}


def test_a_ticked_concern_emails_the_front_door_inbox_with_the_reference_and_a_link_only(
    la: LocalAuthority, staff: dict[str, User], settings: Any
) -> None:
    settings.EHE_BASE_URL = "https://ehe.example.gov.uk"
    child = ChildFactory(local_authority=la, **NON_LATIN_CHILD)
    episode = make_episode(State.EDUCATION_ENQUIRY, child=child)

    episode_concern_raised(
        episode_id=episode.pk,
        as_of=WEDNESDAY_11,
        actor=staff["officer"],
        note="Bruising seen",
        source=ConcernSource.CONCERN_PAGE,
        author=staff["officer"],
    )

    escalation = Escalation.objects.get(episode=episode, rule="concern_ticked")
    [message] = Message.objects.filter(recipient_email=la.front_door_email)
    assert message.idempotency_key == f"escalation:{escalation.pk}:raised:front_door"
    email = message_render(message)
    everything = " ".join([email.subject, email.body, email.alternatives[0][0], json.dumps(message.payload)])
    assert fresh(episode).reference in email.subject
    assert f"https://ehe.example.gov.uk/cases/escalations/{escalation.pk}/" in email.body
    for name in (*NON_LATIN_CHILD.values(), child.full_name, "Bruising"):
        assert name not in everything
    # Raised again, it is the same escalation: the inbox is not told twice.
    escalation_raise(episode=fresh(episode), rule_name="concern_ticked", as_of=WEDNESDAY_11 + timedelta(hours=1))
    assert Message.objects.filter(recipient_email=la.front_door_email).count() == 1


def test_a_role_owned_escalation_pushes_to_nobody_in_person_but_a_named_owner_is_told(
    la: LocalAuthority, staff: dict[str, User]
) -> None:
    concern = raised(make_episode(State.ADDRESS_VERIFICATION, la=la), "concern_ticked")
    consent = raised(make_episode(State.AWAITING_CONSENT, la=la), "consent_required")
    team = raised(make_episode(State.MONITORING, la=la), "contacts_stale")
    own = raised(make_episode(State.MONITORING, la=la, assigned_officer=staff["officer"]), "contacts_stale")

    people = Message.objects.filter(recipient_user__isnull=False)
    assert not people.filter(payload__escalation_id__in=[concern.pk, consent.pk, team.pk]).exists()
    assert set(people.filter(payload__escalation_id=own.pk).values_list("recipient_user_id", "channel")) == {
        (staff["officer"].pk, Channel.IN_APP),
        (staff["officer"].pk, Channel.EMAIL),
    }
    assert set(Message.objects.filter(recipient_user__isnull=True).values_list("recipient_email", flat=True)) == {
        la.front_door_email
    }


def test_a_school_ticks_a_concern_and_it_shows_at_once_under_each_duty_worker(
    la: LocalAuthority, staff: dict[str, User]
) -> None:
    school = SchoolFactory(local_authority=la)
    school_user = make_user(Role.SCHOOL_USER, la)
    school_user.schools.set([school])
    notification = notification_submit(data=with_concern(notification_input(school, school_user)), as_of=WEDNESDAY_11)
    escalation = Escalation.objects.get(episode_id=notification.episode_id, rule="concern_ticked")

    for who in ("duty", "duty2"):
        assert escalation.pk in listed(staff[who])
    assert (
        Message.objects.filter(recipient_email=la.front_door_email, payload__escalation_id=escalation.pk).count() == 1
    )
    [concern] = Concern.objects.filter(episode_id=notification.episode_id)
    assert (concern.source, concern.author, concern.escalation) == (
        ConcernSource.SCHOOL_NOTIFICATION,
        school_user,
        escalation,
    )


# --- Every concern is kept -------------------------------------------------------------------------


def test_a_second_and_third_concern_on_a_case_in_review_are_stored_shown_and_sent(
    la: LocalAuthority, staff: dict[str, User]
) -> None:
    school = SchoolFactory(local_authority=la)
    school_user = make_user(Role.SCHOOL_USER, la, first_name="Sally", last_name="School")
    school_user.schools.set([school])
    with time_machine.travel(WEDNESDAY_11, tick=False):
        notification = notification_submit(
            data=with_concern(notification_input(school, school_user)), as_of=WEDNESDAY_11
        )
    episode = Episode.objects.get(pk=notification.episode_id)
    assert episode.state == State.SAFEGUARDING_REVIEW
    escalation = Escalation.objects.get(episode=episode, rule="concern_ticked")

    # Second: an officer's visit with a concern ticked.
    with time_machine.travel(london(2026, 11, 25, 12, 0), tick=False):
        activity_record(
            episode_id=episode.pk,
            actor=staff["officer"],
            expected_version=fresh(episode).version,
            data=ActivityInput(
                kind="home_visit",
                occurred_at=timezone.now(),
                summary="Child appeared withdrawn; a neighbour reports shouting",
                outcome="parent_reached",
                child_seen=True,
                safeguarding_concern=True,
            ),
        )
    # Third: the concern page.
    concern_page = reverse("cases:concern_new", kwargs={"pk": episode.pk})
    client = signed_in(staff["manager"])
    with time_machine.travel(london(2026, 11, 25, 13, 0), tick=False):
        form = client.get(concern_page)
        assert form.status_code == 200
        response = client.post(
            concern_page, {"version": fresh(episode).version, "reason": "The GP has called with a worry"}
        )
    assert response.status_code == 302

    concerns = list(Concern.objects.filter(episode=episode).order_by("raised_at"))
    assert [(c.source, c.escalation_id) for c in concerns] == [
        (ConcernSource.SCHOOL_NOTIFICATION, escalation.pk),
        (ConcernSource.ACTIVITY, escalation.pk),
        (ConcernSource.CONCERN_PAGE, escalation.pk),
    ]
    assert [c.author for c in concerns] == [school_user, staff["officer"], staff["manager"]]
    assert Escalation.objects.filter(episode=episode, rule="concern_ticked").count() == 1
    added = EscalationEvent.objects.filter(escalation=escalation, kind="concern_added").order_by("id")
    assert [e.note.split(": ", 1)[1] for e in added] == [
        "Child appeared withdrawn; a neighbour reports shouting",
        "The GP has called with a worry",
    ]
    inbox = Message.objects.filter(recipient_email=la.front_door_email).order_by("id")
    assert [m.idempotency_key for m in inbox] == [
        f"escalation:{escalation.pk}:raised:front_door",
        f"escalation:{escalation.pk}:concern:{concerns[1].pk}:front_door",
        f"escalation:{escalation.pk}:concern:{concerns[2].pk}:front_door",
    ]
    assert [m.payload["further_concern"] for m in inbox] == [False, True, True]

    page = text_of(signed_in(staff["duty"]).get(reverse("cases:detail", kwargs={"pk": episode.pk})))
    assert "Safeguarding concerns on this case" in page
    for text in ("neighbour reports shouting", "The GP has called with a worry", "Sally School"):
        assert text in page
    assert page.count("Further concern added") == 2


def test_a_stale_concern_form_is_refused_and_nothing_is_kept(la: LocalAuthority, staff: dict[str, User]) -> None:
    episode = make_episode(State.SAFEGUARDING_REVIEW, la=la)
    raised(episode, "concern_ticked")
    concern_page = reverse("cases:concern_new", kwargs={"pk": episode.pk})
    seen = fresh(episode).version
    with time_machine.travel(london(2026, 11, 25, 9, 41), tick=False):
        episode_concern_raised(
            episode_id=episode.pk,
            as_of=timezone.now(),
            actor=staff["duty2"],
            note="School rang",
            source=ConcernSource.CONCERN_PAGE,
            author=staff["duty2"],
        )
    messages_before = Message.objects.count()

    response = signed_in(staff["officer"]).post(concern_page, {"version": seen, "reason": "Another worry"})

    assert "This case was changed by Sam Second at 09:41" in text_of(response)
    assert list(Concern.objects.filter(episode=episode).values_list("text", flat=True)) == ["School rang"]
    assert Message.objects.count() == messages_before


def test_the_concern_page_refuses_a_closed_case(la: LocalAuthority, staff: dict[str, User]) -> None:
    episode = make_episode(State.CLOSED, la=la)
    response = signed_in(staff["officer"]).get(reverse("cases:concern_new", kwargs={"pk": episode.pk}))
    assert response.status_code == 302
    assert not Concern.objects.exists()


def test_the_escalation_page_shows_its_concerns_and_logs_the_view(la: LocalAuthority, staff: dict[str, User]) -> None:
    episode = make_episode(State.MONITORING, la=la)
    episode_concern_raised(
        episode_id=episode.pk,
        as_of=WEDNESDAY_11,
        actor=staff["officer"],
        note="Ткаченко family worried",
        source=ConcernSource.CONCERN_PAGE,
        author=staff["officer"],
    )
    escalation = Escalation.objects.get(episode=episode, rule="concern_ticked")
    logs = AccessLog.objects.count()
    page = text_of(signed_in(staff["duty"]).get(escalation_url(escalation)))
    assert "Ткаченко family worried" in page
    assert AccessLog.objects.count() == logs + 1


# --- Notifications link, filter and are marked read on open -----------------------------------------


@pytest.fixture
def inbox(la: LocalAuthority, staff: dict[str, User]) -> dict[str, Message]:
    officer = staff["officer"]
    own = raised(make_episode(State.MONITORING, la=la, assigned_officer=officer), "contacts_stale")
    review = raised(make_episode(State.MONITORING, la=la, assigned_officer=officer), "review_overdue")
    return {
        "stale": Message.objects.get(payload__escalation_id=own.pk, channel=Channel.IN_APP),
        "review": Message.objects.get(payload__escalation_id=review.pk, channel=Channel.IN_APP),
    }


def test_opening_a_notification_marks_it_read_and_goes_to_its_escalation(
    staff: dict[str, User], inbox: dict[str, Message]
) -> None:
    message = inbox["stale"]
    client = signed_in(staff["officer"])
    listing = client.get(reverse("notifications:list")).content.decode()
    assert f'action="{reverse("notifications:open", kwargs={"pk": message.pk})}"' in listing

    response = client.post(reverse("notifications:open", kwargs={"pk": message.pk}))

    assert response.status_code == 302
    assert response["Location"] == reverse("cases:escalation", kwargs={"pk": message.payload["escalation_id"]})
    first_read = fresh(message).read_at
    assert first_read is not None
    client.post(reverse("notifications:open", kwargs={"pk": message.pk}))
    assert fresh(message).read_at == first_read
    assert fresh(inbox["review"]).read_at is None


def test_someone_elses_notification_cannot_be_opened(staff: dict[str, User], inbox: dict[str, Message]) -> None:
    response = signed_in(staff["colleague"]).post(reverse("notifications:open", kwargs={"pk": inbox["stale"].pk}))
    assert response.status_code == 404
    assert fresh(inbox["stale"]).read_at is None


def test_notifications_filter_by_unread_and_by_kind(staff: dict[str, User], inbox: dict[str, Message]) -> None:
    client = signed_in(staff["officer"])
    client.post(reverse("notifications:open", kwargs={"pk": inbox["stale"].pk}))

    def opened(query: dict[str, str]) -> set[int]:
        page = client.get(reverse("notifications:list"), query).content.decode()
        return {int(pk) for pk in re.findall(r'action="/notifications/(\d+)/open/"', page)}

    assert opened({}) == {inbox["stale"].pk, inbox["review"].pk}
    assert opened({"unread": "1"}) == {inbox["review"].pk}
    assert opened({"kind": "contacts_stale"}) == {inbox["stale"].pk}
    assert opened({"kind": "contacts_stale", "unread": "1"}) == set()
    assert opened({"kind": "no_such_kind"}) == {inbox["stale"].pk, inbox["review"].pk}
    assert "Contact details have gone stale" in client.get(reverse("notifications:list")).content.decode()


def test_every_in_app_message_links_to_its_case_or_escalation_and_so_does_its_email(
    staff: dict[str, User], inbox: dict[str, Message], settings: Any
) -> None:
    settings.EHE_BASE_URL = "https://ehe.example.gov.uk"
    for message in Message.objects.filter(payload__escalation_id__isnull=False):
        path = reverse("cases:escalation", kwargs={"pk": message.payload["escalation_id"]})
        assert f"https://ehe.example.gov.uk{path}" in message_render(message).body
