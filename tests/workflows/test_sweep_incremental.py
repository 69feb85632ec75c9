"""The periodic sweep is incremental (issue 12): after a sweep that finished, the next reads only
the cases whose dates crossed a rule's threshold since, the escalations that fell due since, and
the absent officers' cases. These tests walk the clock forward over weeks (weekends and a bank
holiday included) in uneven steps, and after every incremental sweep check that a full sweep at
the same moment would find nothing left to do: nothing missed, nothing raised twice. They also
pin down when a full sweep is taken instead, and that every branch of the due read can use an
index."""

from __future__ import annotations

import importlib
import json
import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from ehe_register.models import Absence, AbsenceKind, LocalAuthority
from ehe_register.roles import Role
from ehe_register.working_days import LONDON
from tests.factories import make_audit_action, make_episode, make_user
from workflows import sweeps
from workflows.models import Escalation, EscalationEvent, SweepMark
from workflows.states import State
from workflows.sweeps import DUE_SQL, NOT_SWEPT, LaClock, sweep_run
from workflows.tasks import escalations_sweep

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 14, 9, 0, tzinfo=LONDON)  # a Monday; Christmas and Boxing Day ahead


@pytest.fixture
def traveller() -> Iterator[Any]:
    with time_machine.travel(START, tick=False) as machine:
        yield machine


def a_register_with_dates_ahead(la: LocalAuthority) -> None:
    """Cases whose dates cross every time-driven threshold at some point in the next few weeks."""
    officer = make_user(Role.EHE_OFFICER, la)
    other = make_user(Role.EHE_OFFICER, la)
    manager = make_user(Role.EHE_MANAGER, la)
    make_user(Role.CSPA_DUTY_WORKER, la)
    today = START.date()
    for k in range(0, 24, 2):
        # Contacts not yet verified: contacts_unverified, then cme_enquiry.
        make_episode(
            State.ADDRESS_VERIFICATION,
            la=la,
            received_on=today - timedelta(days=k),
            contacts_verified_at=None,
        )
        # No first contact yet: enquiry_overdue after K calendar days.
        make_episode(
            State.EDUCATION_ENQUIRY,
            la=la,
            received_on=today - timedelta(days=k),
            first_contact_at=None,
            assigned_officer=officer,
        )
    for k in range(-3, 40, 3):
        # Reviews falling due, then overdue.
        make_episode(
            State.MONITORING,
            la=la,
            assigned_officer=officer if k % 2 else None,
            review_due_on=today + timedelta(days=k),
        )
        # Verified contacts going stale (M = 12 months).
        make_episode(
            State.MONITORING,
            la=la,
            assigned_officer=other,
            contacts_verified_at=START - timedelta(days=365 - k) + timedelta(hours=k, minutes=30),
            review_due_on=today + timedelta(days=300),
        )
        # The case's own next-action date passing.
        make_episode(
            State.S437_NOTICE,
            la=la,
            assigned_officer=other,
            next_action_due=today + timedelta(days=k),
            first_contact_at=START,
        )
    for k in (-1, 4, 11, 20):
        episode = make_episode(State.MONITORING, la=la, assigned_officer=officer, first_contact_at=START)
        make_audit_action(episode, owner=officer, due_on=today + timedelta(days=k), manager=manager)
    # An officer away from the second week: their cases with work due move when it starts.
    Absence.objects.create(
        officer=other,
        starts_on=today + timedelta(days=8),
        ends_on=today + timedelta(days=12),
        kind=AbsenceKind.UNEXPECTED,
        recorded_by=manager,
        recorded_at=START,
    )


def nothing_left(as_of: datetime) -> dict[str, dict[str, int]]:
    """What a full sweep at ``as_of`` would still do (a dry run): empty when the register is up to date."""
    counts = sweep_run(as_of=as_of, dry_run=True)
    return {rule: {k: v for k, v in c.items() if v} for rule, c in counts.items() if any(c.values())}


def total(counts: dict[str, dict[str, int]]) -> int:
    return sum(sum(c.values()) for c in counts.values())


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_sweeps_leave_nothing_for_a_full_sweep(la: LocalAuthority, traveller: Any, seed: int) -> None:
    a_register_with_dates_ahead(la)
    first = sweep_run(as_of=START, incremental=True)  # no mark yet: a full sweep
    assert total(first) > 0
    assert SweepMark.objects.get(local_authority=la).full_at == START

    steps = random.Random(seed)
    as_of = START
    did = 0
    while as_of < START + timedelta(days=42):
        as_of += timedelta(hours=steps.choice([1, 5, 13, 26, 49, 75]), minutes=steps.randrange(60))
        traveller.move_to(as_of)
        counts = sweep_run(as_of=as_of, incremental=True)
        did += total(counts)
        assert nothing_left(as_of) == {}, f"missed at {as_of.isoformat()}"
        mark = SweepMark.objects.get(local_authority=la)
        assert mark.swept_to == as_of
        assert mark.full_at == START, "every sweep after the first followed the mark"
    assert did > 50, "the walk crossed thresholds (the test would see a miss)"
    raised = EscalationEvent.objects.filter(kind="raised").values_list("escalation__episode_id", "escalation__rule")
    assert len(raised) == len(set(raised)), "nothing raised twice"
    assert Escalation.objects.filter(rule="officer_absent").exists()
    assert EscalationEvent.objects.filter(kind="climbed").exists()


def test_a_follow_on_sweep_reads_only_what_came_due(la: LocalAuthority, traveller: Any) -> None:
    a_register_with_dates_ahead(la)
    sweep_run(as_of=START, incremental=True)
    later = START + timedelta(minutes=15)
    traveller.move_to(later)

    statements: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        counts = sweep_run(as_of=later, incremental=True)
    assert total(counts) == 0
    # The due read found nothing, so no rule's statement ran: the statements are the sweep's own
    # bookkeeping (lock, marks, statistics, savepoints), the due read, absence cover and the climb.
    assert not any("workflows_activity" in sql for sql in statements)
    assert len(statements) < 24, statements


def test_a_changed_setting_an_old_mark_or_a_clock_set_back_means_a_full_sweep(
    la: LocalAuthority, traveller: Any
) -> None:
    a_register_with_dates_ahead(la)
    sweep_run(as_of=START, incremental=True)

    def swept_in_full(as_of: datetime) -> bool:
        traveller.move_to(as_of)
        sweep_run(as_of=as_of, incremental=True)
        return SweepMark.objects.get(local_authority=la).full_at == as_of

    assert not swept_in_full(START + timedelta(hours=1))
    la.first_contact_days = 10
    la.save(update_fields=["first_contact_days"])
    assert swept_in_full(START + timedelta(hours=2)), "a setting the rules read changed"
    assert not swept_in_full(START + timedelta(hours=3))
    assert swept_in_full(START + timedelta(days=8)), "the mark was over a week old"
    assert swept_in_full(START + timedelta(days=7)), "the clock went back before the mark"
    assert nothing_left(START + timedelta(days=7)) == {}


def test_a_dry_run_or_a_failed_sweep_leaves_the_mark_where_it_was(
    la: LocalAuthority, traveller: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_register_with_dates_ahead(la)
    sweep_run(as_of=START, incremental=True)
    day_later = START + timedelta(days=1)
    traveller.move_to(day_later)

    sweep_run(as_of=day_later, incremental=True, dry_run=True)
    assert SweepMark.objects.get(local_authority=la).swept_to == START

    real = sweeps.escalations_raise_many

    def failing(**kwargs: Any) -> list[int]:
        raise ConnectionError("The database went away")

    monkeypatch.setattr(sweeps, "escalations_raise_many", failing)
    with pytest.raises(ConnectionError):
        sweep_run(as_of=day_later, incremental=True)
    assert SweepMark.objects.get(local_authority=la).swept_to == START

    monkeypatch.setattr(sweeps, "escalations_raise_many", real)
    assert total(sweep_run(as_of=day_later, incremental=True)) > 0
    assert SweepMark.objects.get(local_authority=la).swept_to == day_later
    assert nothing_left(day_later) == {}


def test_a_sweep_of_one_la_marks_that_la_only(la: LocalAuthority, other_la: LocalAuthority, traveller: Any) -> None:
    make_episode(State.ADDRESS_VERIFICATION, la=la, received_on=date(2026, 12, 1))
    sweep_run(as_of=START, la_code=la.dfe_code, incremental=True)
    assert set(SweepMark.objects.values_list("local_authority__dfe_code", flat=True)) == {la.dfe_code}


def test_every_branch_of_the_due_read_can_use_an_index(la: LocalAuthority) -> None:
    """With sequential scans priced out, no branch reads the episodes in full: each threshold has
    an index whose predicate the branch's condition implies."""
    clock = LaClock.of(la, START)
    row = clock.row()
    row.update({f"prev_{key}": value for key, value in LaClock.of(la, START - timedelta(days=1)).row().items()})
    row["prev_at"] = (START - timedelta(days=1)).isoformat()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN " + DUE_SQL, {"due": json.dumps([row]), "as_of": timezone.now(), "not_swept": NOT_SWEPT}
        )
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "Seq Scan on workflows_episode" not in plan, plan


def test_the_beat_runs_the_incremental_sweep_often_and_a_full_one_nightly(la: LocalAuthority, traveller: Any) -> None:
    # The migrations wrote the rows; a transactional test earlier in the run may have flushed them,
    # so run their own functions again (each is safe to run twice).
    for migration in ("0002_beat_schedule", "0011_full_sweep_schedule"):
        importlib.import_module(f"workflows.migrations.{migration}").schedule(apps, None)
    periodic = PeriodicTask.objects.get(name="EHE escalation sweep")
    nightly = PeriodicTask.objects.get(name="EHE full sweep")
    assert periodic.task == nightly.task == "workflows.escalations_sweep"
    assert json.loads(periodic.kwargs) == {}
    assert json.loads(nightly.kwargs) == {"full": True}
    assert (nightly.crontab.hour, nightly.crontab.minute, str(nightly.crontab.timezone)) == (
        "1",
        "30",
        "Europe/London",
    )

    make_episode(State.ADDRESS_VERIFICATION, la=la, received_on=date(2026, 12, 1))
    escalations_sweep(as_of=START.isoformat())
    later = START + timedelta(minutes=15)
    escalations_sweep(as_of=later.isoformat())
    mark = SweepMark.objects.get(local_authority=la)
    assert (mark.swept_to, mark.full_at) == (later, START), "the periodic task followed the mark"
    night = START + timedelta(hours=16, minutes=30)
    escalations_sweep(as_of=night.isoformat(), full=True)
    mark.refresh_from_db()
    assert (mark.swept_to, mark.full_at) == (night, night)


def test_run_escalations_can_sweep_as_the_periodic_task_does(la: LocalAuthority, traveller: Any) -> None:
    make_episode(State.ADDRESS_VERIFICATION, la=la, received_on=date(2026, 12, 1))
    out = StringIO()
    call_command("run_escalations", "--as-of", "2026-12-14T09:00:00", "--incremental", stdout=out)
    assert "all LAs, incremental" in out.getvalue()
    assert "contacts_unverified" in out.getvalue()
    assert SweepMark.objects.get(local_authority=la).swept_to == START
