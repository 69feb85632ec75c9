"""A sweep that always finishes (issue 12): batches of any size give the same result as one big
batch; a sweep that fails part-way keeps the batches it committed, and the next sweep carries on
with nothing raised twice and nothing missed; concerns found by the sweep are handled set-wise
exactly as the event handles them; stale planner statistics are refreshed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction

from ehe_register.models import LocalAuthority, SocialCareStatus, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON
from notifications.models import Message
from tests.factories import ChildFactory, make_episode, make_user
from workflows import sweeps
from workflows.escalation_rules import RULES
from workflows.models import Episode, Escalation, EscalationEvent, TransitionLog
from workflows.states import State
from workflows.sweeps import statistics_refresh, sweep_run

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=LONDON)  # a Monday


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def a_busy_register(la: LocalAuthority, other_la: LocalAuthority) -> None:
    """Cases for every kind of rule in two LAs, interleaved so that each batch holds several."""
    for authority in (la, other_la):
        officer = make_user(Role.EHE_OFFICER, authority)
        make_user(Role.EHE_MANAGER, authority)
        make_user(Role.CSPA_DUTY_WORKER, authority)
        for n in range(3):
            make_episode(
                State.ADDRESS_VERIFICATION,
                la=authority,
                received_on=date(2026, 10, 1) + timedelta(days=n),
                first_contact_at=NOW - timedelta(days=20),
            )
            make_episode(State.MONITORING, la=authority, assigned_officer=officer, review_due_on=date(2026, 10, 20))
            make_episode(State.MONITORING, la=authority, contacts_verified_at=datetime(2025, 1, 1, 9, tzinfo=LONDON))
            make_episode(State.AWAITING_CONSENT, la=authority)
            make_episode(State.EDUCATION_ENQUIRY, la=authority, concern_at_intake=True, first_contact_at=NOW)
            make_episode(
                State.MONITORING,
                la=authority,
                child=ChildFactory(local_authority=authority, social_care_status=SocialCareStatus.CHILD_IN_NEED),
                review_due_on=date(2027, 6, 1),
            )
            make_episode(State.CLOSED, la=authority)


def outcome() -> dict[str, Any]:
    """Everything a sweep writes, by meaning rather than by id."""
    return {
        "escalations": sorted(
            Escalation.objects.values_list("episode_id", "rule", "level", "owner_role", "resolved_at"),
            key=repr,
        ),
        "events": sorted(
            Counter(EscalationEvent.objects.values_list("escalation__episode_id", "escalation__rule", "kind")).items()
        ),
        "messages": sorted(
            Message.objects.values_list(
                "recipient_user_id", "recipient_email", "channel", "template", "payload__rule", "payload__episode_id"
            ),
            key=repr,
        ),
        "transitions": sorted(TransitionLog.objects.values_list("episode_id", "transition", "from_state", "to_state")),
        "episodes": sorted(
            Episode.objects.values_list("id", "state", "resume_state", "version", "contacts_stale_at"), key=repr
        ),
    }


def swept_with(**kwargs: Any) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
    """The outcome of a sweep, then everything it did undone (a savepoint rolled back)."""
    with transaction.atomic():
        counts = sweep_run(as_of=NOW, **kwargs)
        after = outcome()
        transaction.set_rollback(True)
    return after, counts


def test_batches_of_any_size_give_what_one_batch_gives(la: LocalAuthority, other_la: LocalAuthority) -> None:
    a_busy_register(la, other_la)

    whole, whole_counts = swept_with(batch_size=10_000)
    assert whole_counts["concern_ticked"]["raised"] == 6
    assert whole_counts["contacts_unverified"]["raised"] == 6

    for size in (1, 2, 7):
        batched, batched_counts = swept_with(batch_size=size)
        assert batched == whole, size
        assert batched_counts == whole_counts, size


def test_an_interrupted_sweep_keeps_its_batches_and_the_next_carries_on(
    la: LocalAuthority, other_la: LocalAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_busy_register(la, other_la)
    clean, _ = swept_with(batch_size=4)

    # The fourth batch of raising fails after its escalations were written: that batch, and only
    # that one, is rolled back; the batches before it stay committed.
    real = sweeps.escalations_raise_many
    batches: list[int] = []

    def failing_raise(**kwargs: Any) -> list[int]:
        raised = real(**kwargs)
        batches.append(len(raised))
        if len(batches) == 4:
            raise ConnectionError("The database went away")
        return raised

    monkeypatch.setattr(sweeps, "escalations_raise_many", failing_raise)
    with pytest.raises(ConnectionError):
        sweep_run(as_of=NOW, batch_size=4)
    part = outcome()
    assert Escalation.objects.exists(), "the batches before the failure were committed"
    assert part != clean, "the failed batch and those after it were not"

    monkeypatch.setattr(sweeps, "escalations_raise_many", real)
    resumed = sweep_run(as_of=NOW, batch_size=4)

    assert outcome() == clean
    assert sum(c["raised"] for c in resumed.values()) > 0
    # Nothing raised twice: one "raised" event per escalation, one escalation per case and rule.
    raised = Counter(EscalationEvent.objects.filter(kind="raised").values_list("escalation_id", flat=True))
    assert set(raised.values()) == {1}
    assert sweep_run(as_of=NOW, batch_size=4) == sweeps._empty_counts()


def test_a_concern_found_by_the_sweep_goes_to_the_front_door_as_the_event_does(
    la: LocalAuthority, other_la: LocalAuthority
) -> None:
    la.front_door_email = "front.door@example.gov.uk"
    la.save()
    in_review = make_episode(State.SAFEGUARDING_REVIEW, la=la, concern_at_intake=True)
    enquiry = make_episode(State.EDUCATION_ENQUIRY, la=la, concern_at_intake=True, first_contact_at=NOW)
    version = Episode.objects.get(pk=in_review.pk).version

    counts = sweep_run(as_of=NOW)

    assert counts["concern_ticked"] == {"raised": 2, "resolved": 0, "climbed": 0, "moved": 1}
    moved = Episode.objects.get(pk=enquiry.pk)
    assert (moved.state, moved.resume_state) == (State.SAFEGUARDING_REVIEW, State.EDUCATION_ENQUIRY)
    assert TransitionLog.objects.filter(
        episode=moved, transition="concern_raised", reason="Found by the sweep"
    ).exists()
    assert Episode.objects.get(pk=in_review.pk).version == version + 1
    for case in (in_review, enquiry):
        escalation = Escalation.objects.get(episode=case, rule="concern_ticked")
        assert escalation.resolved_at is None
        assert Message.objects.filter(
            recipient_email="front.door@example.gov.uk", payload__escalation_id=escalation.pk
        ).exists()


@pytest.mark.django_db(transaction=True)
def test_stale_planner_statistics_are_refreshed(la: LocalAuthority) -> None:
    officer: User = make_user(Role.EHE_OFFICER, la)
    for _ in range(3):
        make_episode(State.MONITORING, la=la, assigned_officer=officer)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE workflows_episode")
        cursor.execute("SELECT pg_stat_force_next_flush()")
    assert statistics_refresh(["workflows_episode"], threshold=0.1) == []

    # A bulk load of many more rows than the table held: its figures are stale now.
    with connection.cursor() as cursor:
        for _ in range(400):
            cursor.execute("UPDATE workflows_episode SET priority = priority")
        cursor.execute("SELECT pg_stat_force_next_flush()")

    assert statistics_refresh(["workflows_episode"], threshold=0.1) == ["workflows_episode"]
    assert statistics_refresh(["workflows_episode"], threshold=0.1) == []


def test_escalations_that_cannot_climb_do_not_end_the_climbing_early(la: LocalAuthority) -> None:
    """A batch of escalations at their top rung climbs nothing; the climbable ones after them
    (in id order) still climb in the same sweep."""
    top = RULES["concern_ticked"].top_level
    overdue = NOW - timedelta(days=3)
    stuck = [
        Escalation.objects.create(
            episode=make_episode(State.SAFEGUARDING_REVIEW, la=la),
            local_authority=la,
            rule="concern_ticked",
            level=top,
            owner_role=Role.HEAD_OF_SERVICE.value,
            raised_at=overdue,
            due_at=overdue,
        )
        for _ in range(3)
    ]
    climbable = Escalation.objects.create(
        episode=make_episode(State.AWAITING_CONSENT, la=la),
        local_authority=la,
        rule="consent_required",
        level=1,
        owner_role=Role.EHE_MANAGER.value,
        raised_at=overdue,
        due_at=overdue,
    )

    counts = sweep_run(as_of=NOW, batch_size=2)

    assert Escalation.objects.get(pk=climbable.pk).level == 2
    assert counts["consent_required"]["climbed"] == 1
    assert {e.level for e in Escalation.objects.filter(pk__in=[e.pk for e in stuck])} == {top}


def test_the_held_querys_statements_go_through_djangos_execute_wrappers(
    la: LocalAuthority, other_la: LocalAuthority
) -> None:
    """A full sweep reads each step's query from a cursor of psycopg's own (held across the
    batches' commits); its statements still reach Django's execute wrappers, so the benchmark's
    statement count and any query logging see them."""
    a_busy_register(la, other_la)
    seen: list[str] = []

    def watch(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        swept_with(batch_size=2)

    fetches = [sql for sql in seen if sql.startswith("FETCH FORWARD 2 FROM ehe_sweep_step")]
    assert len(fetches) > 10  # a fetch per batch of every held step
