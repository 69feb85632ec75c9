"""Who is told, rule by rule and owner by owner (DESIGN section 5; the README's table): a per-case
push goes to a named person only; the front door's inbox, the SEN inbox and an allocated social
worker get their emails; role-owned and team-queue escalations push to nobody in person, except a
safeguarding escalation climbing to a named role. The event's path (one at a time) and the
sweep's (set-based) tell the same people."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON
from notifications.models import Channel, Message
from tests.factories import ChildFactory, make_audit_action, make_episode, make_user
from workflows.escalation_rules import RULES
from workflows.models import Episode, Escalation
from workflows.services.escalations import escalation_climb, escalation_raise, escalations_raise_many
from workflows.states import State

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 4, 11, 0, tzinfo=LONDON)
FRONT_DOOR = "front.door@example.gov.uk"
SEN_TEAM = "sen.team@example.gov.uk"
SOCIAL_WORKER = "social.worker@example.gov.uk"
OFFICER = "the assigned officer, in the service and by email"
ACTION_OWNER = "the overdue audit action's owner, in the service and by email"

# When raised: who hears, for a case with an assigned officer and for one in the team queue.
RAISED: dict[str, tuple[set[str], set[str]]] = {
    "concern_ticked": ({FRONT_DOOR}, {FRONT_DOOR}),
    "social_care_known": ({FRONT_DOOR, SOCIAL_WORKER}, {FRONT_DOOR, SOCIAL_WORKER}),
    "consent_required": (set(), set()),
    "sen_notify": ({SEN_TEAM}, {SEN_TEAM}),
    "contacts_unverified": (set(), set()),
    "cme_enquiry": (set(), set()),
    "contacts_stale": ({OFFICER}, set()),
    "enquiry_overdue": (set(), set()),
    "review_overdue": ({OFFICER}, set()),
    # Owned by the EHE managers' role; the owner of each overdue action is told by name.
    "audit_action_overdue": ({ACTION_OWNER}, {ACTION_OWNER}),
    "next_action_overdue": ({OFFICER}, set()),
    "officer_absent": (set(), set()),
}

# When it climbs to level 2 and 3: only safeguarding escalations reach people by name.
CLIMBED: dict[str, tuple[set[str], set[str]]] = {
    "concern_ticked": ({"each C-SPA manager"}, {"each head of service"}),
    "social_care_known": ({"each C-SPA manager"}, {"each head of service"}),
    "consent_required": (set(), set()),
    "contacts_unverified": (set(), set()),
    "cme_enquiry": (set(), set()),
    "contacts_stale": (set(), set()),
    "enquiry_overdue": (set(), set()),
    "review_overdue": (set(), set()),
    "audit_action_overdue": (set(),),
    "next_action_overdue": (set(), set()),
}


def test_the_tables_name_every_rule() -> None:
    assert set(RAISED) == set(RULES)
    assert set(CLIMBED) == {name for name, rule in RULES.items() if not rule.notify_only}


@pytest.fixture
def staff(la: LocalAuthority) -> dict[str, Any]:
    la.front_door_email = FRONT_DOOR
    la.sen_team_email = SEN_TEAM
    la.save()
    people: dict[str, Any] = {
        "officer": make_user(Role.EHE_OFFICER, la),
        "other officer": make_user(Role.EHE_OFFICER, la),
        "managers": [make_user(Role.EHE_MANAGER, la) for _ in range(2)],
        "duty": [make_user(Role.CSPA_DUTY_WORKER, la) for _ in range(2)],
        "each C-SPA manager": [make_user(Role.CSPA_MANAGER, la) for _ in range(2)],
        "each head of service": [make_user(Role.HEAD_OF_SERVICE, la)],
        "action owner": make_user(Role.EHE_OFFICER, la),
    }
    return people


def a_case(la: LocalAuthority, officer: User | None, rule: str, staff: dict[str, Any]) -> Episode:
    """A case on which ``rule`` applies: for ``audit_action_overdue``, with an audit action a week
    overdue (and one not yet due, whose owner is not told)."""
    child = ChildFactory(local_authority=la, social_worker_email=SOCIAL_WORKER)
    episode = make_episode(State.MONITORING, la=la, child=child, assigned_officer=officer)
    if rule == "audit_action_overdue":
        make_audit_action(episode, owner=staff["action owner"], due_on=date(2026, 10, 28))
        make_audit_action(episode, owner=staff["other officer"], due_on=date(2026, 11, 4))
    return episode


def told(staff: dict[str, Any]) -> set[str]:
    """Who the messages written since the last clear-out went to, in the tables' words (the
    external inboxes get the case reference only, not the escalation); each person on both
    channels."""
    names = {staff["officer"].pk: OFFICER, staff["action owner"].pk: ACTION_OWNER}
    for group in ("each C-SPA manager", "each head of service"):
        names.update({user.pk: group for user in staff[group]})
    heard: set[str] = set()
    by_person: dict[int, set[str]] = {}
    for user_id, email, channel in Message.objects.values_list("recipient_user_id", "recipient_email", "channel"):
        if user_id is None:
            heard.add(email)
        else:
            by_person.setdefault(user_id, set()).add(channel)
            heard.add(names.get(user_id, f"user {user_id}"))
    assert all(channels == {Channel.IN_APP, Channel.EMAIL} for channels in by_person.values())
    for group in ("each C-SPA manager", "each head of service"):
        if group in heard:
            assert {user.pk for user in staff[group]} <= set(by_person), f"not every one of {group}"
    return heard


@pytest.mark.parametrize("path", ["event", "sweep"])
@pytest.mark.parametrize("assigned", [True, False], ids=["assigned", "team queue"])
@pytest.mark.parametrize("rule", list(RAISED))
def test_who_is_told_when_an_escalation_is_raised(
    la: LocalAuthority, staff: dict[str, Any], rule: str, assigned: bool, path: str
) -> None:
    episode = a_case(la, staff["officer"] if assigned else None, rule, staff)
    Message.objects.all().delete()
    if path == "event":
        _, created = escalation_raise(episode=episode, rule_name=rule, as_of=NOW)
        assert created
    else:
        assert len(escalations_raise_many(rule_name=rule, episode_ids=[episode.pk], as_of=NOW)) == 1

    assert told(staff) == RAISED[rule][0 if assigned else 1]


@pytest.mark.parametrize("rule", list(CLIMBED))
def test_who_is_told_when_an_escalation_climbs(la: LocalAuthority, staff: dict[str, Any], rule: str) -> None:
    episode = a_case(la, staff["officer"], rule, staff)
    Message.objects.all().delete()
    escalation, _ = escalation_raise(episode=episode, rule_name=rule, as_of=NOW)
    heard_before = told(staff)

    for level, expected in enumerate(CLIMBED[rule], start=2):
        if level > RULES[rule].top_level:
            break
        due = Escalation.objects.get(pk=escalation.pk).due_at
        assert due is not None
        Message.objects.all().delete()
        assert escalation_climb(escalation_id=escalation.pk, as_of=due) is not None
        assert told(staff) == expected, level
    assert heard_before == RAISED[rule][0]
