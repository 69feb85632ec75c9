"""The Episode state machine, driven the way the product drives it: through ``episode_transition``.

Every test re-reads the episode with ``Episode.objects.get`` so that it sees what was committed,
not what a transition left on an object in memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ehe_register.models import LocalAuthority, SocialCareStatus, User
from ehe_register.roles import Role
from tests.factories import ChildFactory, LocalAuthorityFactory, make_episode, make_user
from workflows.actors import SYSTEM
from workflows.models import Episode, Escalation, TransitionLog
from workflows.services.escalations import escalation_raise, escalation_resolve
from workflows.services.intake import episode_open
from workflows.services.transitions import StaleVersion, TransitionRefused, episode_transition, transition_names
from workflows.states import ClosureReason, Source, State

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
NEXT_YEAR = date(2027, 9, 1)


def log_rows(episode: Episode) -> list[TransitionLog]:
    return list(TransitionLog.objects.filter(episode_id=episode.pk).order_by("id"))


def run(episode: Episode, transition: str, actor: Any, **arguments: Any) -> Episode:
    """Run ``transition`` as ``actor`` with the version the actor saw, as a form would."""
    return episode_transition(
        episode_id=episode.pk, transition=transition, actor=actor, expected_version=episode.version, **arguments
    )


# --- One happy path per transition ---------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """How a transition is done: from which state, by whom, with what, and where it ends."""

    source: str
    role: Role | None  # None: the system actor
    target: str
    setup: dict[str, Any] = field(default_factory=dict)
    arguments: Callable[[Episode], dict[str, Any]] = lambda episode: {}
    check: Callable[[Episode], None] = lambda episode: None


def _into(episode: Episode) -> dict[str, Any]:
    return {"into": make_episode(State.EDUCATION_ENQUIRY, la=episode.local_authority)}


def _check_merged(episode: Episode) -> None:
    assert episode.closure_reason == ClosureReason.DUPLICATE
    assert episode.state_before_merge == State.MONITORING
    assert episode.merged_into is not None


def _check_unmerged(episode: Episode) -> None:
    assert (episode.closure_reason, episode.state_before_merge, episode.merged_into_id) == ("", "", None)


HAPPY: dict[str, Case] = {
    "risk_check": Case(State.NOTIFIED, None, State.ADDRESS_VERIFICATION),
    "cspa_decision": Case(
        State.SAFEGUARDING_REVIEW,
        Role.CSPA_DUTY_WORKER,
        State.AWAITING_CONSENT,
        setup={"resume_state": State.AWAITING_CONSENT},
        check=lambda e: assert_equal(e.resume_state, ""),
    ),
    "consent_granted": Case(State.AWAITING_CONSENT, Role.EHE_MANAGER, State.ADDRESS_VERIFICATION),
    "consent_refused": Case(
        State.AWAITING_CONSENT,
        Role.EHE_MANAGER,
        State.CLOSED,
        check=lambda e: assert_equal(e.closure_reason, ClosureReason.CONSENT_REFUSED),
    ),
    "contacts_verified": Case(
        State.ADDRESS_VERIFICATION,
        Role.EHE_OFFICER,
        State.EDUCATION_ENQUIRY,
        setup={"contacts_verified_at": datetime(2026, 3, 2, 10, 0, tzinfo=LONDON)},
    ),
    "provision_suitable": Case(
        State.EDUCATION_ENQUIRY,
        Role.EHE_OFFICER,
        State.MONITORING,
        arguments=lambda e: {"next_review_on": NEXT_YEAR},
        check=lambda e: assert_equal(e.review_due_on, NEXT_YEAR),
    ),
    "not_yet_shown": Case(
        State.REVIEW_DUE,
        Role.EHE_OFFICER,
        State.REVIEW_DUE,
        arguments=lambda e: {"next_action_due": date(2026, 6, 1)},
        check=lambda e: assert_equal(e.next_action_due, date(2026, 6, 1)),
    ),
    "cannot_locate": Case(State.ADDRESS_VERIFICATION, Role.EHE_OFFICER, State.MISSING_EDUCATION),
    "located": Case(
        State.MISSING_EDUCATION,
        Role.EHE_OFFICER,
        State.ADDRESS_VERIFICATION,
        setup={"contacts_verified_at": datetime(2025, 3, 2, 10, 0, tzinfo=LONDON)},
        check=lambda e: assert_equal(e.contacts_verified_at, None),
    ),
    "provision_unsuitable": Case(
        State.EDUCATION_ENQUIRY,
        Role.EHE_OFFICER,
        State.S437_NOTICE,
        arguments=lambda e: {"served_on": date(2026, 3, 2), "served_how": "Hand delivered"},
        check=lambda e: assert_equal((e.s437_served_on, e.s437_served_how), (date(2026, 3, 2), "Hand delivered")),
    ),
    "parent_satisfies": Case(
        State.S437_NOTICE,
        Role.EHE_OFFICER,
        State.MONITORING,
        arguments=lambda e: {"next_review_on": NEXT_YEAR},
        check=lambda e: assert_equal(e.review_due_on, NEXT_YEAR),
    ),
    "sao_served": Case(
        State.S437_NOTICE,
        Role.EHE_MANAGER,
        State.ATTENDANCE_ORDER,
        setup={"s437_served_on": date(2026, 1, 5)},
        arguments=lambda e: {"served_on": date(2026, 2, 2)},
        check=lambda e: assert_equal(e.attendance_order_served_on, date(2026, 2, 2)),
    ),
    "order_complied": Case(
        State.ATTENDANCE_ORDER,
        Role.EHE_OFFICER,
        State.CLOSED,
        check=lambda e: assert_equal(e.closure_reason, ClosureReason.RETURNED_TO_SCHOOL),
    ),
    "order_revoked": Case(
        State.ATTENDANCE_ORDER,
        Role.EHE_MANAGER,
        State.MONITORING,
        arguments=lambda e: {"next_review_on": NEXT_YEAR},
        check=lambda e: assert_equal(e.review_due_on, NEXT_YEAR),
    ),
    "review_falls_due": Case(State.MONITORING, None, State.REVIEW_DUE),
    "contacts_went_stale": Case(State.EDUCATION_ENQUIRY, None, State.ADDRESS_VERIFICATION),
    "concern_raised": Case(
        State.MONITORING,
        Role.EHE_OFFICER,
        State.SAFEGUARDING_REVIEW,
        check=lambda e: assert_equal(e.resume_state, State.MONITORING),
    ),
    "close": Case(
        State.MONITORING,
        Role.EHE_OFFICER,
        State.CLOSED,
        arguments=lambda e: {"closure_reason": ClosureReason.MOVED_OUT},
        check=lambda e: assert_equal((e.closure_reason, e.closed_with_concerns), (ClosureReason.MOVED_OUT, False)),
    ),
    "merge_close": Case(State.MONITORING, Role.EHE_MANAGER, State.CLOSED, arguments=_into, check=_check_merged),
    "unmerge": Case(
        State.CLOSED,
        Role.EHE_MANAGER,
        State.EDUCATION_ENQUIRY,
        setup={"closure_reason": ClosureReason.DUPLICATE, "state_before_merge": State.EDUCATION_ENQUIRY},
        check=_check_unmerged,
    ),
    "reopen": Case(
        State.CLOSED,
        Role.EHE_MANAGER,
        State.NOTIFIED,
        check=lambda e: assert_equal((e.closure_reason, e.closed_at), ("", None)),
    ),
    "imported": Case(State.NOTIFIED, None, State.MONITORING, arguments=lambda e: {"state": State.MONITORING}),
}


def assert_equal(actual: Any, expected: Any) -> None:
    assert actual == expected


def actor_for(case: Case, la: LocalAuthority) -> Any:
    return SYSTEM if case.role is None else make_user(case.role, la)


def test_every_transition_of_the_machine_has_a_happy_path() -> None:
    assert sorted(HAPPY) == transition_names()


@pytest.mark.parametrize("name", sorted(HAPPY))
def test_happy_path(name: str, la: LocalAuthority) -> None:
    case = HAPPY[name]
    actor = actor_for(case, la)
    episode = make_episode(case.source, la=la, **case.setup)
    before = len(log_rows(episode))
    as_of = datetime(2026, 3, 20, 14, 5, tzinfo=LONDON)

    with time_machine.travel(as_of, tick=False):
        episode_transition(
            episode_id=episode.pk,
            transition=name,
            actor=actor,
            expected_version=episode.version,
            reason="Test reason",
            as_of=as_of,
            **case.arguments(episode),
        )

    after = Episode.objects.get(pk=episode.pk)
    assert after.state == case.target
    assert after.version == episode.version + 1
    assert after.last_changed_at == as_of
    assert after.last_changed_by_id == (None if case.role is None else actor.pk)
    logs = log_rows(episode)
    assert len(logs) == before + 1
    log = logs[-1]
    assert (log.from_state, log.to_state, log.transition, log.reason, log.at) == (
        case.source,
        case.target,
        name,
        "Test reason",
        as_of,
    )
    assert log.actor_name == actor.display_name
    assert log.actor_id == (None if case.role is None else actor.pk)
    case.check(after)


# --- Refusal from every state that is not a source ----------------------------------------------


def _sources() -> dict[str, set[str]]:
    sources: dict[str, set[str]] = {}
    for t in Episode._meta.get_field("state").get_all_transitions(Episode):  # type: ignore[attr-defined]
        sources.setdefault(t.name, set()).add(t.source)
    return sources


REFUSALS = [(name, state) for name, srcs in sorted(_sources().items()) for state in State.values if state not in srcs]


def test_the_refusal_table_covers_every_transition_and_state() -> None:
    sources = _sources()
    assert set(sources) == set(HAPPY)
    assert len(REFUSALS) == sum(len(State.values) - len(s) for s in sources.values())
    # Sanity: the machine's sources are real states (a typo would make a refusal vacuous).
    assert set().union(*sources.values()) <= set(State.values)


@pytest.mark.parametrize(("name", "state"), REFUSALS)
def test_transition_is_refused_from_a_state_that_is_not_its_source(name: str, state: str, la: LocalAuthority) -> None:
    case = HAPPY[name]
    actor = actor_for(case, la)
    episode = make_episode(state, la=la, **case.setup)  # the conditions met: only the state refuses
    logs = len(log_rows(episode))

    with pytest.raises(TransitionRefused):
        run(episode, name, actor, **case.arguments(episode))

    after = Episode.objects.get(pk=episode.pk)
    assert (after.state, after.version) == (state, episode.version)
    assert len(log_rows(episode)) == logs


def test_an_unknown_transition_is_refused(la: LocalAuthority) -> None:
    episode = make_episode(State.MONITORING, la=la)
    with pytest.raises(TransitionRefused):
        run(episode, "delete", make_user(Role.EHE_MANAGER, la))
    assert Episode.objects.get(pk=episode.pk).version == episode.version


# --- Permission ----------------------------------------------------------------------------------

USER_TRANSITIONS = sorted(name for name, case in HAPPY.items() if case.role is not None)
SYSTEM_TRANSITIONS = sorted(name for name, case in HAPPY.items() if case.role is None)
# Done by people, and also automatically (a concern from an automatic check; contacts verified by a
# matching school record).
SHARED_WITH_SYSTEM = ["concern_raised", "contacts_verified"]


def _outsider(kind: str, la: LocalAuthority, other_la: LocalAuthority) -> User:
    if kind == "manager of another LA":
        return make_user(Role.EHE_MANAGER, other_la)
    if kind == "C-SPA duty worker of another LA":
        return make_user(Role.CSPA_DUTY_WORKER, other_la)
    if kind == "auditor":
        return make_user(Role.AUDITOR, la)
    return make_user(Role.SCHOOL_USER, la)


def _assert_untouched(episode: Episode, logs: int) -> None:
    after = Episode.objects.get(pk=episode.pk)
    assert (after.state, after.version) == (episode.state, episode.version)
    assert len(log_rows(episode)) == logs


@pytest.mark.parametrize("kind", ["manager of another LA", "C-SPA duty worker of another LA", "auditor", "school user"])
@pytest.mark.parametrize("name", USER_TRANSITIONS)
def test_people_without_the_right_to_act_on_the_case_are_refused(
    name: str, kind: str, la: LocalAuthority, other_la: LocalAuthority
) -> None:
    case = HAPPY[name]
    episode = make_episode(case.source, la=la, **case.setup)
    logs = len(log_rows(episode))

    with pytest.raises(PermissionDenied):
        run(episode, name, _outsider(kind, la, other_la), **case.arguments(episode))

    _assert_untouched(episode, logs)


@pytest.mark.parametrize("name", [n for n in USER_TRANSITIONS if n not in SHARED_WITH_SYSTEM])
def test_a_user_transition_is_refused_to_the_system_actor(name: str, la: LocalAuthority) -> None:
    case = HAPPY[name]
    episode = make_episode(case.source, la=la, **case.setup)
    logs = len(log_rows(episode))

    with pytest.raises(PermissionDenied):
        run(episode, name, SYSTEM, **case.arguments(episode))

    _assert_untouched(episode, logs)


@pytest.mark.parametrize("name", SHARED_WITH_SYSTEM)
def test_transitions_shared_with_the_system_actor_are_allowed_to_it(name: str, la: LocalAuthority) -> None:
    case = HAPPY[name]
    episode = make_episode(case.source, la=la, **case.setup)
    run(episode, name, SYSTEM, **case.arguments(episode))
    assert Episode.objects.get(pk=episode.pk).state == case.target


@pytest.mark.parametrize("role", [Role.EHE_OFFICER, Role.EHE_MANAGER, Role.HEAD_OF_SERVICE])
@pytest.mark.parametrize("name", SYSTEM_TRANSITIONS)
def test_an_automatic_transition_is_refused_to_a_person(name: str, role: Role, la: LocalAuthority) -> None:
    case = HAPPY[name]
    episode = make_episode(case.source, la=la, **case.setup)
    logs = len(log_rows(episode))

    with pytest.raises(PermissionDenied):
        run(episode, name, make_user(role, la), **case.arguments(episode))

    _assert_untouched(episode, logs)


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("consent_granted", Role.EHE_OFFICER),
        ("consent_refused", Role.EHE_OFFICER),
        ("sao_served", Role.EHE_OFFICER),
        ("merge_close", Role.EHE_OFFICER),
        ("reopen", Role.EHE_OFFICER),
        ("cspa_decision", Role.EHE_MANAGER),
        ("close", Role.CSPA_DUTY_WORKER),
    ],
)
def test_a_role_below_or_beside_the_one_required_is_refused(name: str, role: Role, la: LocalAuthority) -> None:
    case = HAPPY[name]
    episode = make_episode(case.source, la=la, **case.setup)
    logs = len(log_rows(episode))

    with pytest.raises(PermissionDenied):
        run(episode, name, make_user(role, la), **case.arguments(episode))

    _assert_untouched(episode, logs)


# --- Atomicity -----------------------------------------------------------------------------------


def test_a_transition_whose_log_cannot_be_written_changes_nothing(la: LocalAuthority) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    officer = make_user(Role.EHE_OFFICER, la)

    with (
        mock.patch.object(TransitionLog.objects, "create", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        run(episode, "provision_suitable", officer, next_review_on=NEXT_YEAR)

    after = Episode.objects.get(pk=episode.pk)
    assert (after.state, after.version, after.review_due_on) == (State.EDUCATION_ENQUIRY, episode.version, None)
    assert after.last_changed_by_id is None
    assert [log.transition for log in log_rows(episode)] == ["imported"]


def test_a_transition_whose_body_raises_changes_nothing(la: LocalAuthority) -> None:
    episode = make_episode(State.AWAITING_CONSENT, la=la)

    with (
        mock.patch.object(Episode, "_record_closure", side_effect=RuntimeError("midway")),
        pytest.raises(RuntimeError),
    ):
        run(episode, "consent_refused", make_user(Role.EHE_MANAGER, la))

    after = Episode.objects.get(pk=episode.pk)
    assert (after.state, after.version, after.closure_reason) == (State.AWAITING_CONSENT, episode.version, "")
    assert len(log_rows(episode)) == 1


def test_closing_as_a_duplicate_is_refused_in_favour_of_a_merge(la: LocalAuthority) -> None:
    episode = make_episode(State.MONITORING, la=la)

    with pytest.raises(ValueError, match="merging"):
        run(episode, "close", make_user(Role.EHE_OFFICER, la), closure_reason=ClosureReason.DUPLICATE)

    after = Episode.objects.get(pk=episode.pk)
    assert (after.state, after.version, after.closure_reason) == (State.MONITORING, episode.version, "")
    assert len(log_rows(episode)) == 1


def test_intake_whose_escalation_messages_fail_leaves_no_episode(la: LocalAuthority) -> None:
    child = ChildFactory(local_authority=la)
    make_user(Role.CSPA_DUTY_WORKER, la)

    with (
        mock.patch("workflows.services.escalations.raising.message_enqueue", side_effect=RuntimeError("outbox down")),
        pytest.raises(RuntimeError),
    ):
        episode_open(
            child=child,
            source=Source.SCHOOL,
            received_on=date(2026, 3, 2),
            as_of=timezone.now(),
            concern_at_intake=True,
        )

    assert not Episode.objects.filter(child=child).exists()
    assert not Escalation.objects.filter(episode__child=child).exists()


# --- Nothing sets the state directly -------------------------------------------------------------


def test_assigning_the_state_of_a_loaded_episode_is_refused(la: LocalAuthority) -> None:
    episode = Episode.objects.get(pk=make_episode(State.MONITORING, la=la).pk)

    with pytest.raises(AttributeError):
        episode.state = State.CLOSED  # type: ignore[misc]

    assert Episode.objects.get(pk=episode.pk).state == State.MONITORING


# --- Versions: stale forms and two people at once ------------------------------------------------


def test_a_stale_version_is_refused_and_names_who_changed_the_case(la: LocalAuthority) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    first = make_user(Role.EHE_OFFICER, la, first_name="Priya", last_name="Shah")
    second = make_user(Role.EHE_OFFICER, la, first_name="Tom", last_name="Baker")
    seen = episode.version
    episode_transition(
        episode_id=episode.pk,
        transition="not_yet_shown",
        actor=first,
        expected_version=seen,
        as_of=datetime(2026, 7, 1, 9, 41, tzinfo=LONDON),  # BST: 08:41 UTC
        next_action_due=date(2026, 7, 15),
    )

    with pytest.raises(StaleVersion) as refused:
        episode_transition(
            episode_id=episode.pk,
            transition="provision_suitable",
            actor=second,
            expected_version=seen,
            next_review_on=NEXT_YEAR,
        )

    assert str(refused.value) == "This case was changed by Priya Shah at 09:41. Reload to see the change."
    after = Episode.objects.get(pk=episode.pk)
    assert (after.state, after.version) == (State.EDUCATION_ENQUIRY, seen + 1)
    assert [log.transition for log in log_rows(episode)] == ["imported", "not_yet_shown"]


@pytest.mark.django_db(transaction=True)
def test_two_people_acting_at_once_one_wins_and_the_other_is_told_who() -> None:
    la = LocalAuthorityFactory()
    episode = make_episode(State.ADDRESS_VERIFICATION, la=la)
    people = {
        "ann": (make_user(Role.EHE_OFFICER, la, first_name="Ann", last_name="Lee"), datetime(2026, 5, 6, 10, 15)),
        "bob": (make_user(Role.EHE_MANAGER, la, first_name="Bob", last_name="Ray"), datetime(2026, 5, 6, 10, 16)),
    }
    start = threading.Barrier(2)
    outcomes: dict[str, Any] = {}
    real_create = TransitionLog.objects.create

    def slow_create(**kwargs: Any) -> TransitionLog:
        # Hold the row lock a little, so the other request is surely waiting on it by then.
        time.sleep(0.3)
        return real_create(**kwargs)

    def act(key: str) -> None:
        user, at = people[key]
        try:
            start.wait(timeout=10)
            episode_transition(
                episode_id=episode.pk,
                transition="cannot_locate",
                actor=user,
                expected_version=episode.version,
                as_of=at.replace(tzinfo=LONDON),
            )
            outcomes[key] = "done"
        except Exception as exc:  # the test reads it below
            outcomes[key] = exc
        finally:
            connection.close()

    with mock.patch.object(TransitionLog.objects, "create", side_effect=slow_create):
        threads = [threading.Thread(target=act, args=(key,)) for key in people]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    winners = [key for key, outcome in outcomes.items() if outcome == "done"]
    assert len(winners) == 1, outcomes
    [winner] = winners
    [loser] = [key for key in people if key != winner]
    assert isinstance(outcomes[loser], StaleVersion), outcomes
    name, at = people[winner][0].display_name, people[winner][1]
    assert str(outcomes[loser]) == f"This case was changed by {name} at {at:%H:%M}. Reload to see the change.", (
        "PRODUCTION BUG (workflows/services/transitions.py, _locked + StaleVersion): the loser's "
        "SELECT ... FOR UPDATE OF episode waits for the winner, and PostgreSQL then re-reads the locked "
        "episode row but keeps the LEFT JOINed user row it saw before (select_related('last_changed_by')), "
        "so last_changed_by_id is the winner while last_changed_by is the previous changer (None here). "
        "Look the user up by last_changed_by_id after taking the lock."
    )

    after = Episode.objects.get(pk=episode.pk)
    assert (after.state, after.version, after.last_changed_by_id) == (
        State.MISSING_EDUCATION,
        episode.version + 1,
        people[winner][0].pk,
    )
    assert [log.actor_name for log in log_rows(episode) if log.transition == "cannot_locate"] == [name]


# --- The risk check on intake --------------------------------------------------------------------


def _open(la: LocalAuthority, *, social_care: str = SocialCareStatus.NONE, **facts: Any) -> Episode:
    child = ChildFactory(local_authority=la, social_care_status=social_care)
    # Received today: a notification received long ago would find its clocks already run out.
    return episode_open(
        child=child, source=Source.SCHOOL, received_on=timezone.localdate(), as_of=timezone.now(), **facts
    )


def _open_rules(episode: Episode) -> set[str]:
    return set(
        Escalation.objects.filter(episode_id=episode.pk, resolved_at__isnull=True).values_list("rule", flat=True)
    )


@pytest.mark.parametrize(
    ("facts", "duty", "state", "resume", "rules"),
    [
        pytest.param(
            {"concern_at_intake": True},
            False,
            State.SAFEGUARDING_REVIEW,
            State.ADDRESS_VERIFICATION,
            {"concern_ticked"},
            id="concern ticked",
        ),
        pytest.param(
            {"concern_at_intake": True, "special_school_placed_by_la": True},
            False,
            State.SAFEGUARDING_REVIEW,
            State.AWAITING_CONSENT,
            {"concern_ticked"},
            id="concern and special school placed by the LA",
        ),
        pytest.param(
            {"social_care": SocialCareStatus.CHILD_PROTECTION_PLAN},
            True,
            State.SAFEGUARDING_REVIEW,
            State.AWAITING_CONSENT,
            {"social_care_known"},
            id="child protection plan with the consent duty: safeguarding first",
        ),
        pytest.param(
            {"social_care": SocialCareStatus.S47_OPEN},
            False,
            State.SAFEGUARDING_REVIEW,
            State.ADDRESS_VERIFICATION,
            {"social_care_known"},
            id="s47 without the consent duty",
        ),
        pytest.param(
            {"social_care": SocialCareStatus.CHILD_IN_NEED},
            True,
            State.SAFEGUARDING_REVIEW,
            State.ADDRESS_VERIFICATION,
            {"social_care_known"},
            id="child in need: the consent duty does not cover it",
        ),
        pytest.param(
            {"attendance_order_in_force": True},
            False,
            State.AWAITING_CONSENT,
            "",
            {"consent_required"},
            id="attendance order only",
        ),
        pytest.param(
            {"special_school_placed_by_la": True}, False, State.AWAITING_CONSENT, "", {"consent_required"}, id="special"
        ),
        pytest.param({}, True, State.ADDRESS_VERIFICATION, "", set(), id="nothing, duty on"),
        pytest.param({}, False, State.ADDRESS_VERIFICATION, "", set(), id="nothing"),
    ],
)
def test_risk_check_on_intake(
    facts: dict[str, Any], duty: bool, state: str, resume: str, rules: set[str], la: LocalAuthority
) -> None:
    la.consent_duty_commenced = duty
    la.save()

    episode = Episode.objects.get(pk=_open(la, **facts).pk)

    assert (episode.state, episode.resume_state) == (state, resume)
    assert _open_rules(episode) == rules
    [log] = log_rows(episode)
    assert (log.from_state, log.to_state, log.transition, log.actor_name) == (
        State.NOTIFIED,
        state,
        "risk_check",
        SYSTEM.display_name,
    )


def test_after_the_front_door_decides_a_consent_case_goes_to_the_consent_decision(la: LocalAuthority) -> None:
    episode = _open(la, concern_at_intake=True, special_school_placed_by_la=True)
    duty_worker = make_user(Role.CSPA_DUTY_WORKER, la)

    run(episode, "cspa_decision", duty_worker)

    after = Episode.objects.get(pk=episode.pk)
    assert (after.state, after.resume_state) == (State.AWAITING_CONSENT, "")
    assert log_rows(episode)[-1].actor_name == duty_worker.display_name


def test_a_previous_episode_closed_with_concerns_sends_the_new_one_to_the_front_door(la: LocalAuthority) -> None:
    child = ChildFactory(local_authority=la)
    make_episode(State.CLOSED, child=child, closed_with_concerns=True)

    episode = episode_open(child=child, source=Source.PARENT, received_on=timezone.localdate(), as_of=timezone.now())

    after = Episode.objects.get(pk=episode.pk)
    assert (after.state, after.resume_state) == (State.SAFEGUARDING_REVIEW, State.ADDRESS_VERIFICATION)
    assert _open_rules(after) == {"social_care_known"}


def test_a_previous_episode_closed_without_concerns_does_not(la: LocalAuthority) -> None:
    child = ChildFactory(local_authority=la)
    make_episode(State.CLOSED, child=child, closed_with_concerns=False)

    episode = episode_open(child=child, source=Source.PARENT, received_on=date(2026, 3, 2), as_of=timezone.now())

    assert Episode.objects.get(pk=episode.pk).state == State.ADDRESS_VERIFICATION


# --- No closure while a safeguarding escalation is open ------------------------------------------

CLOSINGS = [
    ("close", State.MONITORING, Role.EHE_OFFICER, lambda e: {"closure_reason": ClosureReason.RETURNED_TO_SCHOOL}),
    ("consent_refused", State.AWAITING_CONSENT, Role.EHE_MANAGER, lambda e: {}),
    ("merge_close", State.EDUCATION_ENQUIRY, Role.EHE_MANAGER, _into),
    ("order_complied", State.ATTENDANCE_ORDER, Role.EHE_OFFICER, lambda e: {}),
]


@pytest.mark.parametrize("rule", ["concern_ticked", "social_care_known"])
@pytest.mark.parametrize(("name", "state", "role", "arguments"), CLOSINGS)
def test_no_closure_while_a_safeguarding_escalation_is_open(
    name: str, state: str, role: Role, arguments: Callable[[Episode], dict[str, Any]], rule: str, la: LocalAuthority
) -> None:
    episode = make_episode(state, la=la)
    user = make_user(role, la)
    as_of = timezone.now()
    escalation_raise(episode=episode, rule_name=rule, as_of=as_of)

    with pytest.raises(TransitionRefused, match="not ready"):
        run(episode, name, user, **arguments(episode))
    assert Episode.objects.get(pk=episode.pk).state == state

    escalation_resolve(episode=episode, rule_name=rule, as_of=as_of, decision="no_further_action")
    run(episode, name, user, **arguments(episode))

    after = Episode.objects.get(pk=episode.pk)
    assert after.state == State.CLOSED
    assert after.closed_with_concerns is (rule == "concern_ticked")


@pytest.mark.parametrize(("text", "allowed"), [("", False), ("Family emigrated to Canada", True)])
def test_closing_for_another_reason_needs_the_reason_in_words(text: str, allowed: bool, la: LocalAuthority) -> None:
    episode = make_episode(State.EDUCATION_ENQUIRY, la=la)
    officer = make_user(Role.EHE_OFFICER, la)

    if allowed:
        run(episode, "close", officer, closure_reason=ClosureReason.OTHER, closure_text=text)
    else:
        with pytest.raises(ValueError, match="Say why"):
            run(episode, "close", officer, closure_reason=ClosureReason.OTHER, closure_text=text)

    after = Episode.objects.get(pk=episode.pk)
    assert (after.state, after.closure_reason, after.closure_text) == (
        (State.CLOSED, ClosureReason.OTHER, text) if allowed else (State.EDUCATION_ENQUIRY, "", "")
    )
    assert len(log_rows(episode)) == (2 if allowed else 1)


def test_a_concern_ticked_at_intake_is_carried_by_the_closed_episode(la: LocalAuthority) -> None:
    episode = make_episode(State.ATTENDANCE_ORDER, la=la, concern_at_intake=True)

    run(episode, "order_complied", make_user(Role.EHE_OFFICER, la))

    assert Episode.objects.get(pk=episode.pk).closed_with_concerns is True


def test_a_resolved_escalation_of_another_kind_does_not_block_closure(la: LocalAuthority) -> None:
    episode = make_episode(State.AWAITING_CONSENT, la=la)
    escalation_raise(episode=episode, rule_name="consent_required", as_of=timezone.now())

    run(episode, "consent_refused", make_user(Role.EHE_MANAGER, la))

    after = Episode.objects.get(pk=episode.pk)
    assert (after.state, after.closed_with_concerns) == (State.CLOSED, False)


# --- Merge and unmerge ---------------------------------------------------------------------------


def test_unmerge_returns_the_case_to_the_state_it_was_merged_from(la: LocalAuthority) -> None:
    manager = make_user(Role.EHE_MANAGER, la)
    duplicate = make_episode(State.S437_NOTICE, la=la)
    kept = make_episode(State.S437_NOTICE, la=la)

    run(duplicate, "merge_close", manager, into=kept)
    merged = Episode.objects.get(pk=duplicate.pk)
    assert (merged.state, merged.closure_reason, merged.merged_into_id) == (
        State.CLOSED,
        ClosureReason.DUPLICATE,
        kept.pk,
    )

    run(merged, "unmerge", manager)

    after = Episode.objects.get(pk=duplicate.pk)
    assert (after.state, after.closure_reason, after.merged_into_id, after.closed_at) == (
        State.S437_NOTICE,
        "",
        None,
        None,
    )
    assert [(log.from_state, log.to_state) for log in log_rows(duplicate)][1:] == [
        (State.S437_NOTICE, State.CLOSED),
        (State.CLOSED, State.S437_NOTICE),
    ]


def test_reopen_refuses_a_merged_closure(la: LocalAuthority) -> None:
    manager = make_user(Role.EHE_MANAGER, la)
    duplicate = make_episode(State.MONITORING, la=la)
    run(duplicate, "merge_close", manager, into=make_episode(State.MONITORING, la=la))
    merged = Episode.objects.get(pk=duplicate.pk)

    with pytest.raises(TransitionRefused):
        run(merged, "reopen", manager)

    assert Episode.objects.get(pk=duplicate.pk).state == State.CLOSED


def test_unmerge_refuses_a_closure_that_was_not_a_merge(la: LocalAuthority) -> None:
    manager = make_user(Role.EHE_MANAGER, la)
    episode = make_episode(State.MONITORING, la=la)
    run(episode, "close", manager, closure_reason=ClosureReason.OVER_SCHOOL_AGE)
    closed = Episode.objects.get(pk=episode.pk)

    with pytest.raises(TransitionRefused):
        run(closed, "unmerge", manager)

    assert Episode.objects.get(pk=episode.pk).state == State.CLOSED
    run(closed, "reopen", manager)
    assert Episode.objects.get(pk=episode.pk).state == State.NOTIFIED


# --- The s437 notice period ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "allowed"),
    [
        (datetime(2026, 6, 14, 12, 0, tzinfo=LONDON), False),  # D + 13
        (datetime(2026, 6, 15, 23, 59, tzinfo=LONDON), False),  # D + 14: the 15th day of the notice
        # D + 15, just after midnight in summer time, when the UTC date is still D + 14.
        (datetime(2026, 6, 16, 0, 30, tzinfo=LONDON), True),
        (datetime(2026, 7, 1, 12, 0, tzinfo=LONDON), True),
    ],
)
def test_school_attendance_order_waits_for_the_notice_period(now: datetime, allowed: bool, la: LocalAuthority) -> None:
    served = date(2026, 6, 1)
    episode = make_episode(State.S437_NOTICE, la=la, s437_served_on=served)
    manager = make_user(Role.EHE_MANAGER, la)

    with time_machine.travel(now, tick=False):
        if allowed:
            run(episode, "sao_served", manager, served_on=now.date())
        else:
            with pytest.raises(TransitionRefused, match="not ready"):
                run(episode, "sao_served", manager, served_on=now.date())

    after = Episode.objects.get(pk=episode.pk)
    assert after.state == (State.ATTENDANCE_ORDER if allowed else State.S437_NOTICE)
    assert after.attendance_order_served_on == (now.date() if allowed else None)


# --- One open episode per child ------------------------------------------------------------------


def test_the_database_refuses_a_second_open_episode_for_a_child(la: LocalAuthority) -> None:
    first = make_episode(State.MONITORING, la=la)

    with pytest.raises(IntegrityError), transaction.atomic():
        Episode.objects.create(
            local_authority=la,
            child=first.child,
            source=Source.SCHOOL,
            received_on=date(2026, 3, 2),
            opened_at=timezone.now(),
        )

    assert Episode.objects.filter(child=first.child).count() == 1


def test_a_closed_episode_and_a_new_open_one_are_fine(la: LocalAuthority) -> None:
    closed = make_episode(State.CLOSED, la=la)

    Episode.objects.create(
        local_authority=la,
        child=closed.child,
        source=Source.SCHOOL,
        received_on=date(2026, 3, 2),
        opened_at=timezone.now(),
    )

    assert sorted(Episode.objects.filter(child=closed.child).values_list("state", flat=True)) == [
        State.CLOSED,
        State.NOTIFIED,
    ]


def test_reopening_clears_closed_with_concerns(la: LocalAuthority) -> None:
    """A closure made in error no longer counts as an earlier case closed with concerns."""
    manager = make_user(Role.EHE_MANAGER, la)
    episode = make_episode(State.MONITORING, la=la)
    Episode.objects.filter(pk=episode.pk).update(concern_at_intake=True)
    run(Episode.objects.get(pk=episode.pk), "close", manager, closure_reason=ClosureReason.OVER_SCHOOL_AGE)
    assert Episode.objects.get(pk=episode.pk).closed_with_concerns

    run(Episode.objects.get(pk=episode.pk), "reopen", manager)

    assert not Episode.objects.get(pk=episode.pk).closed_with_concerns
