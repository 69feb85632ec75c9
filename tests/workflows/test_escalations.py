"""The automatic escalation rules (DESIGN section 5): when each falls due, how it climbs, who is told."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from ehe_register.models import LocalAuthority, SenStatus, SocialCareStatus, User
from ehe_register.roles import Role
from notifications.models import Channel, Message
from tests.factories import ChildFactory, make_episode, make_user
from workflows.escalation_rules import RULES
from workflows.models import Episode, Escalation, EscalationEvent
from workflows.selectors import escalations_for
from workflows.services.escalations import (
    escalation_acknowledge,
    escalation_climb,
    escalation_raise,
    escalation_resolve,
)
from workflows.states import State

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


# Wednesday 25 November 2026, mid-morning: an ordinary working day.
WEDNESDAY_11 = london(2026, 11, 25, 11, 0)


def episode_in(la: LocalAuthority, **fields: object) -> Episode:
    return make_episode(State.ADDRESS_VERIFICATION, la=la, **fields)


def told(escalation: Escalation | None = None) -> set[tuple[int | None, str]]:
    messages = Message.objects.all()
    if escalation is not None:
        messages = messages.filter(idempotency_key__startswith=f"escalation:{escalation.pk}:")
    return set(messages.values_list("recipient_user_id", "channel"))


def in_app_and_email(*users: User) -> set[tuple[int | None, str]]:
    return {(user.pk, channel) for user in users for channel in (Channel.IN_APP, Channel.EMAIL)}


# --- Level-1 due times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "due"),
    [
        pytest.param(london(2026, 11, 27, 16, 55), london(2026, 11, 30, 10, 0), id="Friday after the cut-off"),
        pytest.param(
            london(2026, 12, 24, 16, 55), london(2026, 12, 29, 10, 0), id="Christmas Eve: 25 and 28 Dec are holidays"
        ),
        pytest.param(WEDNESDAY_11, london(2026, 11, 25, 17, 0), id="working day morning: end of the day"),
        pytest.param(london(2026, 11, 25, 15, 59), london(2026, 11, 25, 17, 0), id="a minute before the cut-off"),
        pytest.param(london(2026, 11, 25, 16, 0), london(2026, 11, 26, 10, 0), id="at the cut-off"),
        pytest.param(london(2026, 11, 28, 11, 0), london(2026, 11, 30, 10, 0), id="Saturday"),
        pytest.param(london(2026, 7, 1, 11, 0), london(2026, 7, 1, 17, 0), id="summer time: 17:00 London"),
    ],
)
def test_a_ticked_concern_is_due_by_the_end_of_the_working_day(
    as_of: datetime, due: datetime, la: LocalAuthority
) -> None:
    escalation, created = escalation_raise(episode=episode_in(la), rule_name="concern_ticked", as_of=as_of)

    assert created
    assert Escalation.objects.get(pk=escalation.pk).due_at == due


@pytest.mark.parametrize(
    ("rule", "as_of", "due"),
    [
        pytest.param("social_care_known", WEDNESDAY_11, london(2026, 11, 26, 17, 0), id="social care: +1"),
        pytest.param("social_care_known", london(2026, 11, 27, 9, 0), london(2026, 11, 30, 17, 0), id="social: Fri"),
        pytest.param(
            "social_care_known", london(2026, 12, 24, 9, 0), london(2026, 12, 29, 17, 0), id="social: Christmas Eve"
        ),
        pytest.param("consent_required", WEDNESDAY_11, london(2026, 12, 2, 17, 0), id="consent: +5"),
        pytest.param("consent_required", london(2026, 12, 22, 9, 0), london(2026, 12, 31, 17, 0), id="consent: Xmas"),
        pytest.param("contacts_unverified", WEDNESDAY_11, london(2026, 12, 9, 17, 0), id="unverified: +N=10"),
        pytest.param("enquiry_overdue", WEDNESDAY_11, london(2026, 12, 10, 11, 0), id="enquiry: +K=15 days"),
    ],
)
def test_level_one_due_times(rule: str, as_of: datetime, due: datetime, la: LocalAuthority) -> None:
    escalation, _ = escalation_raise(episode=episode_in(la), rule_name=rule, as_of=as_of)

    assert Escalation.objects.get(pk=escalation.pk).due_at == due


def test_the_las_own_thresholds_set_the_due_times(la: LocalAuthority) -> None:
    la.contacts_unverified_working_days = 3
    la.first_contact_days = 7
    la.save()
    episode = episode_in(la)

    unverified, _ = escalation_raise(episode=episode, rule_name="contacts_unverified", as_of=WEDNESDAY_11)
    overdue, _ = escalation_raise(episode=episode, rule_name="enquiry_overdue", as_of=WEDNESDAY_11)

    assert Escalation.objects.get(pk=unverified.pk).due_at == london(2026, 11, 30, 17, 0)
    assert Escalation.objects.get(pk=overdue.pk).due_at == london(2026, 12, 2, 11, 0)


# --- Raising is idempotent -----------------------------------------------------------------------


def test_raising_twice_gives_one_escalation_and_one_set_of_messages(la: LocalAuthority) -> None:
    make_user(Role.CSPA_DUTY_WORKER, la)
    make_user(Role.EHE_MANAGER, la)
    episode = episode_in(la)
    first, created = escalation_raise(episode=episode, rule_name="concern_ticked", as_of=WEDNESDAY_11)
    messages = Message.objects.count()
    assert created
    # Owned by the duty worker role: the front door's inbox is emailed, nobody in person.
    assert list(Message.objects.values_list("recipient_email", flat=True)) == [la.front_door_email]
    assert messages == 1

    again, created_again = escalation_raise(
        episode=episode, rule_name="concern_ticked", as_of=london(2026, 11, 25, 11, 30)
    )

    assert (again.pk, created_again) == (first.pk, False)
    assert Escalation.objects.filter(episode=episode, rule="concern_ticked").count() == 1
    assert Message.objects.count() == messages
    assert list(EscalationEvent.objects.filter(escalation=first).values_list("kind", flat=True)) == ["raised"]


def test_the_database_refuses_a_second_open_escalation_of_one_rule(la: LocalAuthority) -> None:
    episode = episode_in(la)
    escalation_raise(episode=episode, rule_name="consent_required", as_of=WEDNESDAY_11)

    with pytest.raises(IntegrityError), transaction.atomic():
        Escalation.objects.create(
            episode=episode, local_authority=la, rule="consent_required", raised_at=WEDNESDAY_11, due_at=WEDNESDAY_11
        )

    assert Escalation.objects.filter(episode=episode, rule="consent_required").count() == 1


def test_once_resolved_the_rule_can_be_raised_afresh_and_people_are_told_again(la: LocalAuthority) -> None:
    duty_worker = make_user(Role.CSPA_DUTY_WORKER, la)
    episode = episode_in(la)
    first, _ = escalation_raise(episode=episode, rule_name="concern_ticked", as_of=WEDNESDAY_11)
    escalation_resolve(episode=episode, rule_name="concern_ticked", as_of=london(2026, 11, 25, 12, 0))

    second, created = escalation_raise(episode=episode, rule_name="concern_ticked", as_of=london(2026, 12, 1, 10, 0))

    assert created
    assert second.pk != first.pk
    assert Escalation.objects.filter(episode=episode, rule="concern_ticked", resolved_at__isnull=True).get() == second
    assert Message.objects.filter(idempotency_key=f"escalation:{second.pk}:raised:front_door").exists()
    assert second in escalations_for(duty_worker)


# --- Climbing the ladder -------------------------------------------------------------------------


def test_a_ticked_concern_climbs_to_the_cspa_manager_then_the_head_of_service(la: LocalAuthority) -> None:
    cspa_manager = make_user(Role.CSPA_MANAGER, la)
    head = make_user(Role.HEAD_OF_SERVICE, la)
    escalation, _ = escalation_raise(episode=episode_in(la), rule_name="concern_ticked", as_of=WEDNESDAY_11)

    assert escalation_climb(escalation_id=escalation.pk, as_of=london(2026, 11, 25, 16, 59)) is None
    row = Escalation.objects.get(pk=escalation.pk)
    assert (row.level, row.owner_role) == (1, Role.CSPA_DUTY_WORKER)
    assert not told(escalation) & in_app_and_email(cspa_manager)

    escalation_climb(escalation_id=escalation.pk, as_of=london(2026, 11, 25, 17, 1))
    row = Escalation.objects.get(pk=escalation.pk)
    assert (row.level, row.owner_role, row.due_at) == (2, Role.CSPA_MANAGER, london(2026, 11, 26, 17, 0))
    assert in_app_and_email(cspa_manager) <= told(escalation)
    assert not told(escalation) & in_app_and_email(head)

    escalation_climb(escalation_id=escalation.pk, as_of=london(2026, 11, 26, 17, 1))
    row = Escalation.objects.get(pk=escalation.pk)
    assert (row.level, row.owner_role) == (3, Role.HEAD_OF_SERVICE)
    assert in_app_and_email(head) <= told(escalation)

    assert escalation_climb(escalation_id=escalation.pk, as_of=london(2026, 12, 31, 17, 1)) is None
    assert Escalation.objects.get(pk=escalation.pk).level == 3
    assert Escalation.objects.filter(episode_id=escalation.episode_id).count() == 1
    events = EscalationEvent.objects.filter(escalation=escalation).order_by("id")
    assert [(e.kind, e.level) for e in events] == [("raised", 1), ("climbed", 2), ("climbed", 3)]


# The ladders of DESIGN section 5: each rung's owner and its due time in working days.
OFFICER = "assigned officer"
LADDERS: dict[str, list[tuple[str, int]]] = {
    "concern_ticked": [(Role.CSPA_MANAGER, 1), (Role.HEAD_OF_SERVICE, 1)],
    "social_care_known": [(Role.CSPA_MANAGER, 1), (Role.HEAD_OF_SERVICE, 1)],
    "consent_required": [(Role.HEAD_OF_SERVICE, 2)],
    "contacts_unverified": [(Role.HEAD_OF_SERVICE, 5)],
    "cme_enquiry": [(Role.HEAD_OF_SERVICE, 5)],
    "contacts_stale": [(Role.EHE_MANAGER, 5), (Role.HEAD_OF_SERVICE, 5)],
    "enquiry_overdue": [(Role.HEAD_OF_SERVICE, 5)],
    "review_overdue": [(Role.EHE_MANAGER, 5), (Role.HEAD_OF_SERVICE, 5)],
    "audit_action_overdue": [(Role.HEAD_OF_SERVICE, 5)],
    "next_action_overdue": [(Role.EHE_MANAGER, 5), (Role.HEAD_OF_SERVICE, 5)],
}
FIRST_OWNERS = {
    "concern_ticked": Role.CSPA_DUTY_WORKER,
    "social_care_known": Role.CSPA_DUTY_WORKER,
    "consent_required": Role.EHE_MANAGER,
    "contacts_unverified": Role.EHE_MANAGER,
    "cme_enquiry": Role.EHE_MANAGER,
    "contacts_stale": OFFICER,
    "enquiry_overdue": Role.EHE_MANAGER,
    "review_overdue": OFFICER,
    "audit_action_overdue": Role.EHE_MANAGER,
    "next_action_overdue": OFFICER,
}
DUE_AFTER = {  # the working day, at 17:00, that many working days after Wednesday 25 November 2026
    1: london(2026, 11, 26, 17, 0),
    2: london(2026, 11, 27, 17, 0),
    5: london(2026, 12, 2, 17, 0),
}


def test_every_escalating_rule_has_a_ladder_here() -> None:
    assert set(LADDERS) == {name for name, rule in RULES.items() if not rule.notify_only}


@pytest.mark.parametrize("rule", sorted(LADDERS))
def test_each_rule_climbs_its_ladder_and_stops_at_the_top(rule: str, la: LocalAuthority) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    episode = episode_in(la, assigned_officer=officer)
    escalation, _ = escalation_raise(episode=episode, rule_name=rule, as_of=london(2026, 11, 2, 9, 0))
    row = Escalation.objects.get(pk=escalation.pk)
    if FIRST_OWNERS[rule] == OFFICER:
        assert (row.owner_role, row.owner_user_id) == ("", officer.pk)
    else:
        assert (row.owner_role, row.owner_user_id) == (FIRST_OWNERS[rule], None)

    for level, (owner, days) in enumerate(LADDERS[rule], start=2):
        # Wednesday 25 November, just after 11:00: every level so far is overdue.
        climbed = escalation_climb(escalation_id=escalation.pk, as_of=WEDNESDAY_11)
        assert climbed is not None
        row = Escalation.objects.get(pk=escalation.pk)
        assert (row.level, row.owner_role, row.owner_user_id, row.due_at) == (level, owner, None, DUE_AFTER[days])
        Escalation.objects.filter(pk=escalation.pk).update(due_at=london(2026, 11, 25, 10, 0))

    assert escalation_climb(escalation_id=escalation.pk, as_of=WEDNESDAY_11) is None
    assert Escalation.objects.get(pk=escalation.pk).level == 1 + len(LADDERS[rule])


def test_an_unassigned_case_escalates_to_the_team_queue(la: LocalAuthority) -> None:
    team = [make_user(Role.EHE_OFFICER, la), make_user(Role.EHE_OFFICER, la)]

    escalation, _ = escalation_raise(episode=episode_in(la), rule_name="contacts_stale", as_of=WEDNESDAY_11)

    row = Escalation.objects.get(pk=escalation.pk)
    assert (row.owner_role, row.owner_user_id) == (Role.EHE_OFFICER, None)
    # The team queue: on every officer's "Escalations for you", never one message per officer.
    assert told(escalation) == set()
    for officer in team:
        assert list(escalations_for(officer)) == [row]


def test_an_acknowledged_escalation_does_not_climb(la: LocalAuthority) -> None:
    duty_worker = make_user(Role.CSPA_DUTY_WORKER, la)
    escalation, _ = escalation_raise(episode=episode_in(la), rule_name="concern_ticked", as_of=WEDNESDAY_11)
    escalation_acknowledge(escalation=escalation, actor=duty_worker, as_of=london(2026, 11, 25, 12, 0))

    assert escalation_climb(escalation_id=escalation.pk, as_of=london(2026, 11, 26, 9, 0)) is None

    row = Escalation.objects.get(pk=escalation.pk)
    assert (row.level, row.acknowledged_by_id) == (1, duty_worker.pk)
    assert not EscalationEvent.objects.filter(escalation=escalation, kind="climbed").exists()


def test_a_resolved_escalation_does_not_climb(la: LocalAuthority) -> None:
    episode = episode_in(la)
    escalation, _ = escalation_raise(episode=episode, rule_name="consent_required", as_of=WEDNESDAY_11)
    escalation_resolve(episode=episode, rule_name="consent_required", as_of=london(2026, 11, 26, 9, 0))

    assert escalation_climb(escalation_id=escalation.pk, as_of=london(2027, 1, 4, 9, 0)) is None
    assert Escalation.objects.get(pk=escalation.pk).level == 1


# --- Notify-only rules ---------------------------------------------------------------------------


def test_the_sen_team_is_told_once_per_episode_and_it_never_climbs(la: LocalAuthority) -> None:
    child = ChildFactory(local_authority=la, sen_status=SenStatus.EHCP)
    episode = make_episode(State.EDUCATION_ENQUIRY, child=child)

    escalation, created = escalation_raise(episode=episode, rule_name="sen_notify", as_of=WEDNESDAY_11)
    again, created_again = escalation_raise(episode=episode, rule_name="sen_notify", as_of=london(2027, 2, 1, 9, 0))

    assert (created, again.pk, created_again) == (True, escalation.pk, False)
    row = Escalation.objects.get(pk=escalation.pk)
    assert (row.resolved_at, row.due_at) == (WEDNESDAY_11, None)
    [message] = Message.objects.filter(recipient_email=la.sen_team_email)
    assert message.payload == {"case_reference": episode.reference, "summary": RULES["sen_notify"].summary}
    assert escalation_climb(escalation_id=escalation.pk, as_of=london(2027, 6, 1, 9, 0)) is None
    assert Escalation.objects.filter(episode=episode).count() == 1
    assert Message.objects.count() == 1


# --- Who is told, and what the message holds -----------------------------------------------------


def test_a_ticked_concern_tells_the_front_door_inbox_of_the_childs_la_only(
    la: LocalAuthority, other_la: LocalAuthority
) -> None:
    duty_workers = [make_user(Role.CSPA_DUTY_WORKER, la), make_user(Role.CSPA_DUTY_WORKER, la)]
    manager = make_user(Role.EHE_MANAGER, la)
    make_user(Role.EHE_OFFICER, la)
    make_user(Role.CSPA_DUTY_WORKER, la, is_active=False)
    make_user(Role.CSPA_DUTY_WORKER, other_la)
    make_user(Role.EHE_MANAGER, other_la)
    child = ChildFactory(
        local_authority=la, legal_first_name="Amelia", legal_last_name="Okonkwo-Hartley", preferred_first_name="Millie"
    )
    episode = make_episode(State.ADDRESS_VERIFICATION, child=child)

    escalation, _ = escalation_raise(episode=episode, rule_name="concern_ticked", as_of=WEDNESDAY_11)

    assert told(escalation) == told() == {(None, Channel.EMAIL)}
    assert list(Message.objects.values_list("recipient_email", flat=True)) == [la.front_door_email]
    for worker in duty_workers:
        assert list(escalations_for(worker)) == [escalation]
    assert list(escalations_for(manager)) == []
    for message in Message.objects.all():
        text = json.dumps(message.payload)
        assert message.payload["case_reference"] == episode.reference
        assert message.local_authority_id == la.pk
        for name in ("Amelia", "Okonkwo", "Hartley", "Millie"):
            assert name not in text


def test_the_allocated_social_worker_gets_the_case_reference_only(la: LocalAuthority) -> None:
    child = ChildFactory(
        local_authority=la,
        legal_first_name="Jayden",
        legal_last_name="Przybylski",
        social_care_status=SocialCareStatus.CHILD_IN_NEED,
        social_worker_email="sw.allocated@example.gov.uk",
    )
    episode = make_episode(State.SAFEGUARDING_REVIEW, child=child)

    escalation_raise(episode=episode, rule_name="social_care_known", as_of=WEDNESDAY_11)

    [message] = Message.objects.filter(recipient_email="sw.allocated@example.gov.uk")
    assert set(message.payload) == {"case_reference", "summary"}
    assert message.payload["case_reference"] == episode.reference
    assert "Jayden" not in json.dumps(message.payload)
    assert "Przybylski" not in json.dumps(message.payload)
