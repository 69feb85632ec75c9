"""Which episodes each rule of DESIGN section 5 finds, and the sweep that applies them all.

Every rule in ``workflows.escalation_rules.RULES`` has a :class:`RuleSweep` here (a test keeps the
two registries in step): the SQL condition under which the rule fires, and the condition under
which an open escalation of it still stands. A rule's sweep is a few set-based statements over
all the LAs at once, never a loop over episodes:

- per-LA thresholds are joined from ``ehe_register_localauthority`` (calendar days; months,
  counted on the London wall clock) or, for working-day offsets, computed here once per LA on
  the bank-holiday calendar and passed in as a small table (``c``), together with ``as_of``:
  the database's ``now()`` is never used. Enquiry and clock rules ignore ``notified`` cases
  (the risk check moves them at once) and closed ones (closing resolves their escalations);
- raising is ``INSERT ... ON CONFLICT DO NOTHING`` on the one-open-escalation index, so repeated
  sweeps raise nothing new; an escalation whose condition has cleared is resolved with a log
  entry (safeguarding escalations excepted: only a decision resolves them);
- automatic transitions (``review_falls_due``, ``contacts_went_stale``) go through
  ``episodes_bulk_transition``;
- unacknowledged escalations past their due time climb one rung (``escalations_climb_batch``);
- the ``officer_absent`` rule moves cases (``workflows.services.absence``).

The same sweep, restricted to one episode (``episode_rules_evaluate``), is how the rules are
evaluated at an event: every service that changes a case calls it once, at the end of its
transaction, so there is one mechanism for the rules, not two.

``next_action_overdue`` is the catch-all: any active case whose stored clock (``next_action_due``,
kept true by ``workflows.clocks``) has run out, where no other rule holds an open escalation.

A full sweep works in bounded batches, so that it always finishes whatever the scale: each step
(a rule's resolving, its raising, an automatic transition, the climb) finds at most
``EHE_SWEEP_BATCH`` rows after the last batch's, in id order, acts on them and commits, then finds
the next batch; a full sweep that finds little is one set-based query per step over every LA. The
periodic sweep is incremental (see "The periodic sweep" below): after a sweep that finished, it
reads only what has come due since, so its cost follows the day's work, not the register's size.
Each batch is its own transaction, with foreign keys checked as each statement ends (``SET
CONSTRAINTS ALL IMMEDIATE``: deferred checks queued by earlier writes made every later trigger's
subtransaction slower). Every step is idempotent (raising is ``ON CONFLICT DO NOTHING``, resolving
and moving re-read their condition, messages have idempotency keys), so a failure loses at most
the batch it happened in and the next sweep carries on from the facts. Memory and every
statement's parameters are bounded by the batch. Planner statistics of the tables a sweep writes
are refreshed when they have gone stale (after a bulk load, every few steps of a sweep that
writes many rows, and at its end).

Working-day rules change only on working days: "N working days after receipt" is reached at the
start of the N-th working day, and a review date "has passed" from the start of the first working
day after it, so a Saturday sweep raises nothing that Friday's did not.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Subquery

from ehe_register.models import LocalAuthority, SenStatus, SocialCareStatus
from ehe_register.working_days import LONDON, add_working_days
from workflows.clocks import episodes_next_action_due_refresh
from workflows.escalation_rules import RULES
from workflows.models import Episode, SweepMark
from workflows.services.absence import absence_cover_apply
from workflows.services.bulk import episodes_bulk_transition
from workflows.services.escalations import (
    escalations_climb_batch,
    escalations_raise_many,
    escalations_resolve_many,
)
from workflows.states import ACTIVE_STATES, State

logger = logging.getLogger(__name__)

SWEEP_LOCK = 7_236_001  # pg advisory lock: one full sweep at a time

# States in which the first-contact clock runs: the case has not yet got past the enquiry.
ENQUIRY_STATES = (
    State.SAFEGUARDING_REVIEW,
    State.AWAITING_CONSENT,
    State.ADDRESS_VERIFICATION,
    State.EDUCATION_ENQUIRY,
    State.MISSING_EDUCATION,
)
REVIEW_STATES = (State.MONITORING, State.REVIEW_DUE)
STALE_MOVES_FROM = (State.MONITORING, State.REVIEW_DUE, State.EDUCATION_ENQUIRY)  # contacts_went_stale
_MOVABLE = [str(s) for s in STALE_MOVES_FROM]
NOT_SWEPT = [str(State.CLOSED), str(State.NOTIFIED)]  # notified: the risk check runs at once


@dataclass(frozen=True)
class RuleSweep:
    """The set-based query of one rule, as SQL conditions over ``e`` (the episode), ``ch`` (its
    child), ``la`` (its LA) and ``c`` (the LA's clock for this sweep).

    ``fires``: the rule's condition; an escalation is raised where it holds and none is open.
    ``holds``: while this holds, an open escalation stands; when it stops holding (or the case
    closes) the escalation is resolved. None: only a decision resolves it.
    ``once_per_episode``: raised at most once on an episode (facts, not a clock).
    """

    rule: str
    fires: str
    holds: str | None
    cleared: str = ""
    once_per_episode: bool = False


_UNVERIFIED = "e.contacts_verified_at IS NULL AND e.contacts_stale_at IS NULL"
_ENQUIRY_OVERDUE = (
    "e.state = ANY(%(enquiry_states)s) AND e.received_on + la.first_contact_days <= c.today"
    " AND (e.first_contact_at IS NULL OR (la.home_check_duty_commenced AND e.child_seen_at_home_at IS NULL))"
)
_REVIEW_OVERDUE = "e.state = ANY(%(review_states)s) AND e.review_due_on <= c.review_passed_by"
# The catch-all: the case's clock (``workflows.clocks``) has run out, and no other rule holds an
# open escalation on it. "Passed" as for a review date: from the first working day after it.
# An overdue quality-audit action is about practice, not the case's clock: it holds nothing here.
_NEXT_ACTION_OVERDUE = """e.next_action_due <= c.review_passed_by AND NOT EXISTS (
    SELECT 1 FROM workflows_escalation o
    WHERE o.episode_id = e.id AND o.resolved_at IS NULL AND o.rule NOT IN (%(rule)s, 'audit_action_overdue'))"""
# An open quality-audit action on the case past its due date, "passed" as a review date is.
_AUDIT_ACTION_OVERDUE = """EXISTS (
    SELECT 1 FROM workflows_auditaction a JOIN workflows_auditcase ac ON ac.id = a.audit_case_id
    WHERE ac.episode_id = e.id AND a.completed_at IS NULL AND a.due_on <= c.review_passed_by)"""

SWEEPS: dict[str, RuleSweep] = {
    sweep.rule: sweep
    for sweep in [
        # Raised at the event (intake, an activity); the sweep catches a concern that was recorded
        # without its escalation, and does what the event does (episode_concern_raised).
        RuleSweep(
            "concern_ticked",
            fires="""(
                (e.concern_at_intake AND NOT EXISTS (
                    SELECT 1 FROM workflows_escalation p WHERE p.episode_id = e.id AND p.rule = %(rule)s))
                OR EXISTS (
                    SELECT 1 FROM workflows_activity a
                    WHERE a.episode_id = e.id AND a.safeguarding_concern AND a.recorded_at <= %(as_of)s
                      AND NOT EXISTS (SELECT 1 FROM workflows_escalation p
                                      WHERE p.episode_id = e.id AND p.rule = %(rule)s
                                        AND (p.resolved_at IS NULL OR p.raised_at >= a.occurred_at)))
            )""",
            holds=None,
        ),
        RuleSweep(
            "social_care_known",
            fires="""(ch.social_care_status = ANY(%(social_care_triggers)s) OR EXISTS (
                SELECT 1 FROM workflows_episode o
                WHERE o.child_id = e.child_id AND o.id <> e.id AND o.closed_with_concerns))""",
            holds=None,
            once_per_episode=True,
        ),
        RuleSweep(
            "consent_required",
            fires="e.state = 'awaiting_consent'",
            holds="e.state = 'awaiting_consent'",
            cleared="The consent decision has been made",
        ),
        RuleSweep("sen_notify", fires="ch.sen_status = %(ehcp)s", holds=None, once_per_episode=True),
        RuleSweep(
            "contacts_unverified",
            fires=f"{_UNVERIFIED} AND e.received_on <= c.unverified_by",
            holds="e.contacts_verified_at IS NULL",
            cleared="Contact details verified",
        ),
        RuleSweep(
            "cme_enquiry",
            fires=f"{_UNVERIFIED} AND e.received_on <= c.cme_by",
            holds="e.contacts_verified_at IS NULL",
            cleared="Contact details verified",
        ),
        RuleSweep(
            "contacts_stale",
            fires="e.contacts_stale_at IS NOT NULL",
            holds="e.contacts_stale_at IS NOT NULL",
            cleared="Contact details verified again",
        ),
        RuleSweep(
            "enquiry_overdue",
            fires=_ENQUIRY_OVERDUE,
            holds=_ENQUIRY_OVERDUE,
            cleared="First contact made (and, where the home-check duty applies, the child seen at home)",
        ),
        RuleSweep(
            "review_overdue",
            fires=_REVIEW_OVERDUE,
            holds=_REVIEW_OVERDUE,
            cleared="The review was held or its date moved",
        ),
        RuleSweep(
            "audit_action_overdue",
            fires=_AUDIT_ACTION_OVERDUE,
            holds=_AUDIT_ACTION_OVERDUE,
            cleared="Every overdue audit action on the case is done",
        ),
        RuleSweep(
            "next_action_overdue",
            fires=_NEXT_ACTION_OVERDUE,
            holds=_NEXT_ACTION_OVERDUE,
            cleared="The next action's date moved on, or another rule holds the case",
        ),
        # Moves cases rather than matching a condition on the episode alone: see absence_cover_apply.
        RuleSweep("officer_absent", fires="false", holds=None),
    ]
}

TRANSITION_SWEEPS = ("review_falls_due",)  # automatic moves that raise nothing
SWEEP_NAMES = (*RULES, *TRANSITION_SWEEPS)


@functools.lru_cache(maxsize=256)
def _latest_start(today: date, n: int) -> date:
    """The latest day d with ``add_working_days(d, n) <= today``: the n-th working day after any
    day up to d has begun by ``today``."""
    day = today
    while add_working_days(day, n) > today:
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True)
class LaClock:
    """One LA's working-day thresholds for one sweep, computed in Python on the calendar."""

    local_authority: LocalAuthority
    today: date
    unverified_by: date  # received on or before: N working days have passed
    cme_by: date  # ... 2N working days
    review_horizon: date  # monitoring cases with a review on or before this fall due
    review_passed_by: date  # review dates on or before this have passed

    @classmethod
    def of(cls, la: LocalAuthority, as_of: datetime) -> LaClock:
        today = as_of.astimezone(LONDON).date()
        n = la.contacts_unverified_working_days
        return cls(
            local_authority=la,
            today=today,
            unverified_by=_latest_start(today, n),
            cme_by=_latest_start(today, 2 * n),
            review_horizon=add_working_days(today, la.review_warning_working_days),
            review_passed_by=_latest_start(today, 1),
        )

    def row(self) -> dict[str, Any]:
        return {
            "la_id": self.local_authority.pk,
            "today": self.today.isoformat(),
            "unverified_by": self.unverified_by.isoformat(),
            "cme_by": self.cme_by.isoformat(),
            "review_horizon": self.review_horizon.isoformat(),
            "review_passed_by": self.review_passed_by.isoformat(),
        }


CLOCK = (
    "jsonb_to_recordset(%(clock)s::jsonb) AS c(la_id bigint, today date, unverified_by date, cme_by date,"
    " review_horizon date, review_passed_by date)"
)
EPISODES = f"""
    workflows_episode e
    JOIN {CLOCK} ON c.la_id = e.local_authority_id
    JOIN ehe_register_localauthority la ON la.id = e.local_authority_id
    JOIN ehe_register_child ch ON ch.id = e.child_id
"""


class SweepBusy(Exception):
    """Another sweep is running: this one would only repeat its work."""


@dataclass
class _Run:
    """One sweep's moment, LAs and counts. ``episode_ids``: the evaluation at an event, limited to
    those episodes, in one transaction. Otherwise (a full sweep) each step works through what it
    finds ``limit`` rows at a time, in id order after ``after``, each batch in its own
    transaction (``_in_batches``)."""

    as_of: datetime
    clocks: list[LaClock]
    episode_ids: list[int] | None
    counts: dict[str, dict[str, int]]
    limit: int | None = None
    after: int = 0
    since: dict[int, datetime] | None = None  # incremental: per LA, the mark followed (climbs since then)
    held: Any = None  # a full sweep's step: its query, held open across its batches (``found``)

    def params(self, **more: Any) -> dict[str, Any]:
        return {
            "clock": self.clock_json,
            "as_of": self.as_of,
            "episode_ids": self.episode_ids or [],
            "after": self.after,
            "limit": self.limit,
            "enquiry_states": [str(s) for s in ENQUIRY_STATES],
            "review_states": [str(s) for s in REVIEW_STATES],
            "social_care_triggers": sorted(SocialCareStatus.safeguarding_triggers()),
            "ehcp": str(SenStatus.EHCP),
            **more,
        }

    @property
    def clock_json(self) -> str:
        return json.dumps([clock.row() for clock in self.clocks])

    def only(self, key: str = "e.id", held: bool = False) -> str:
        """The condition limiting a step to the run's episodes, or to the next batch after
        ``after`` (with ``page``, which ends the query; ``held``: a query run once, ``found``)."""
        if self.episode_ids is not None:
            return "AND e.id = ANY(%(episode_ids)s)"
        return f"AND {key} > %(after)s" if self.limit is not None and not held else ""

    def page(self, key: str = "e.id", held: bool = False) -> str:
        if not self.holding:
            return ""
        return f"ORDER BY {key}" if held else f"ORDER BY {key} LIMIT %(limit)s"

    def ids(self, sql: str, **more: Any) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(sql, self.params(**more))
            return sorted(row[0] for row in cursor.fetchall())

    @property
    def holding(self) -> bool:
        """A full sweep's batches: a step that finds with ``found`` runs its query once."""
        return self.limit is not None and self.episode_ids is None

    def found(self, sql: str, **more: Any) -> list[int]:
        """What a step finds (its query limited by ``only(held=True)`` and ordered by
        ``page(held=True)``): at an event, everything; in a full sweep, the next ``limit`` rows of
        the step's query, which runs once, at the step's first batch, and is held open across the
        batches' commits (a ``WITH HOLD`` cursor, released by ``_in_batches``). Paging the query
        again at every batch (``after``, ``LIMIT``) let some plans read the whole table at every
        batch: at 1,000,000 children that was 480 s of a 910 s sweep."""
        if not self.holding:
            return self.ids(sql, **more)
        if self.held is None:
            held = connection.connection.cursor(name="ehe_sweep_step", withhold=True)
            params = self.params(**more)
            _wrapped(held, sql, params, lambda: held.execute(sql, params))
            self.held = held
        held = self.held
        rows = _wrapped(
            held, f"FETCH FORWARD {self.limit} FROM ehe_sweep_step", None, lambda: held.fetchmany(self.limit)
        )
        return sorted(row[0] for row in rows)

    def release(self) -> None:
        """Close the step's held query, if any (after a failed batch it has gone already)."""
        held, self.held = self.held, None
        if held is not None:
            with suppress(Exception):
                held.close()

    def add(self, rule: str, what: str, n: int) -> None:
        self.counts[rule][what] += n


def _wrapped(cursor: Any, sql: str, params: Any, run: Callable[[], Any]) -> Any:
    """Run a statement of the held cursor (psycopg's own, which Django does not wrap) through
    Django's execute wrappers, as Django runs its own statements: whatever counts or logs the
    sweep's statements (the benchmark's statement count) sees these too."""

    def execute(sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        return run()

    call = execute
    for wrapper in reversed(connection.execute_wrappers):
        call = functools.partial(wrapper, call)
    return call(sql, params, False, {"connection": connection, "cursor": cursor})


def _in_batches(run: _Run, step: Callable[[_Run], list[int]]) -> None:
    """Run ``step`` until it has found everything: at an event, once (in the caller's
    transaction); in a full sweep, a batch at a time, each batch its own transaction, with foreign
    keys checked as each statement ends. ``step`` finds at most ``run.limit`` rows after
    ``run.after`` in key order, acts on them, and returns the keys it found."""
    if run.limit is None or run.episode_ids is not None:
        with transaction.atomic():
            step(run)
        return
    run.after = 0
    try:
        while True:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                found = step(run)
            if len(found) < run.limit:
                return
            run.after = max(found)
    finally:
        run.release()


# The conditions of the automatic moves (the steps' own, and the event's probe: ``_event_steps_run``).
_GONE_STALE = """e.state <> ALL(%(not_swept)s) AND e.contacts_stale_at IS NULL
    AND e.contacts_verified_at < ((%(as_of)s::timestamptz AT TIME ZONE 'Europe/London')
                                  - make_interval(months => la.contacts_stale_months))
                                 AT TIME ZONE 'Europe/London'"""
_STALE_MOVES = "e.contacts_stale_at IS NOT NULL AND e.state = ANY(%(movable)s)"
_REVIEW_FALLS_DUE = "e.state = 'monitoring' AND e.review_due_on <= c.review_horizon"


def _contacts_mark_stale(run: _Run) -> list[int]:
    """Verified longer ago than the LA's M months: the details are stale now (as a failed contact
    makes them, in ``contacts_mark_stale``)."""
    return run.ids(
        f"""
        UPDATE workflows_episode e SET contacts_stale_at = %(as_of)s, contacts_verified_at = NULL
        WHERE e.id IN (
            SELECT e.id FROM workflows_episode e
            JOIN ehe_register_localauthority la ON la.id = e.local_authority_id
            JOIN {CLOCK} ON c.la_id = e.local_authority_id
            WHERE {_GONE_STALE}
              {run.only()}
            {run.page()}
        )
        RETURNING e.id
        """,  # noqa: S608 - fixed fragments only
        not_swept=NOT_SWEPT,
    )


def _contacts_stale_move(run: _Run) -> list[int]:
    """Cases in monitoring, review or enquiry whose details are stale go back to address
    verification. Cases waiting on a decision or a statutory clock stay where they are."""
    stale = run.found(
        f"""
        SELECT e.id FROM {EPISODES}
        WHERE {_STALE_MOVES} {run.only(held=True)}
        {run.page(held=True)}
        """,  # noqa: S608 - fixed fragments only
        movable=_MOVABLE,
    )
    if stale:
        moved = episodes_bulk_transition(
            transition="contacts_went_stale",
            episode_ids=stale,
            as_of=run.as_of,
            reason="Contact details went stale",
        )
        run.add("contacts_stale", "moved", len(moved))
    return stale


def _reviews_fall_due(run: _Run) -> list[int]:
    """Monitoring cases whose review date is within W working days move to review due."""
    due = run.found(
        f"""
        SELECT e.id FROM {EPISODES}
        WHERE {_REVIEW_FALLS_DUE} {run.only(held=True)}
        {run.page(held=True)}
        """  # noqa: S608 - fixed fragments only
    )
    if due:
        moved = episodes_bulk_transition(
            transition="review_falls_due",
            episode_ids=due,
            as_of=run.as_of,
            reason="The review date is near",
        )
        run.add("review_falls_due", "moved", len(moved))
    return due


def _cleared(sweep: RuleSweep) -> str:
    """The open escalation ``x`` of the rule no longer stands on its episode ``e``."""
    return f"""x.rule = %(rule)s AND x.resolved_at IS NULL
              AND NOT COALESCE(e.state <> 'closed' AND ({sweep.holds}), false)"""


def _raises(sweep: RuleSweep) -> str:
    """The rule fires on episode ``e`` and nothing stops it being raised there."""
    never_or_not_open = "" if sweep.once_per_episode else "AND p.resolved_at IS NULL"
    return f"""e.state <> ALL(%(not_swept)s) AND ({sweep.fires})
              AND NOT EXISTS (SELECT 1 FROM workflows_escalation p
                              WHERE p.episode_id = e.id AND p.rule = %(rule)s {never_or_not_open})"""  # noqa: S608 - fixed fragments declared in SWEEPS


def _rule_resolve(sweep: RuleSweep) -> Callable[[_Run], list[int]]:
    def step(run: _Run) -> list[int]:
        cleared = run.ids(
            f"""
            SELECT x.id FROM workflows_escalation x
            JOIN {EPISODES} ON e.id = x.episode_id
            WHERE {_cleared(sweep)}
              {run.only("x.id")}
            {run.page("x.id")}
            FOR UPDATE OF x
            """,  # noqa: S608 - fixed fragments declared in SWEEPS
            rule=sweep.rule,
        )
        resolved = escalations_resolve_many(
            escalation_ids=cleared, as_of=run.as_of, note=f"Resolved automatically: {sweep.cleared}"
        )
        run.add(sweep.rule, "resolved", len(resolved))
        return cleared

    return step


def _rule_raise(sweep: RuleSweep) -> Callable[[_Run], list[int]]:
    def step(run: _Run) -> list[int]:
        found = run.found(
            f"""
            SELECT e.id FROM {EPISODES}
            WHERE {_raises(sweep)}
              {run.only(held=True)}
            {run.page(held=True)}
            """,  # noqa: S608 - fixed fragments declared in SWEEPS
            rule=sweep.rule,
            not_swept=NOT_SWEPT,
        )
        if not found:
            return found
        if sweep.rule == "concern_ticked":
            _concerns_raise(run, found)
            return found
        raised = escalations_raise_many(
            rule_name=sweep.rule,
            episode_ids=found,
            as_of=run.as_of,
            once_per_episode=sweep.once_per_episode,
        )
        run.add(sweep.rule, "raised", len(raised))
        return found

    return step


def _concerns_raise(run: _Run, found: list[int]) -> None:
    """Set-wise, what the event does one case at a time (``episode_concern_raised``): the case goes
    to safeguarding review, remembering where it was (one already there is touched, as
    ``episode_touch`` does), and ``concern_ticked`` is raised, which tells the front door."""
    moved = episodes_bulk_transition(
        transition="concern_raised",
        episode_ids=found,
        as_of=run.as_of,
        reason="Found by the sweep",
    )
    Episode.objects.filter(pk__in=sorted(set(found) - set(moved))).update(
        version=F("version") + 1, last_changed_by=None, last_changed_at=run.as_of
    )
    raised = escalations_raise_many(
        rule_name="concern_ticked", episode_ids=found, as_of=run.as_of, note="Found by the sweep"
    )
    run.add("concern_ticked", "raised", len(raised))
    run.add("concern_ticked", "moved", len(moved))


def _absence_cover(run: _Run) -> list[int]:
    result = absence_cover_apply(
        as_of=run.as_of, local_authorities=[c.local_authority for c in run.clocks], episode_ids=run.episode_ids
    )
    run.add("officer_absent", "raised", len(result.raised))
    run.add("officer_absent", "moved", len(result.moves))
    return []  # the officers' absences, not a batch of rows: one pass


def _climb(run: _Run) -> list[int]:
    climbed = escalations_climb_batch(
        as_of=run.as_of,
        local_authorities=[c.local_authority for c in run.clocks],
        episode_ids=run.episode_ids,
        after=run.after,
        limit=run.limit if run.episode_ids is None else None,
        since=run.since,
    )
    for escalation in climbed:
        run.add(escalation.rule, "climbed", 1)
    return [escalation.pk for escalation in climbed]


@dataclass(frozen=True)
class _Step:
    """One step of a sweep, and for the evaluation at an event (``_event_steps_run``) a condition
    over one episode ``e`` (joined as in ``EPISODES``) that holds whenever the step would find
    something for it: exactly the step's own condition for the moves and the rules, a necessary
    one for the absence cover. None: the step always runs. ``params``: the condition's own."""

    act: Callable[[_Run], list[int]]
    finds: str | None = None
    params: dict[str, Any] | None = None


# An absent officer's case is found only if it is open and assigned (``absence_cover_apply``).
_ABSENCE_MAY_MOVE = "e.state <> 'closed' AND e.assigned_officer_id IS NOT NULL"


def _all_steps(climb: bool, absence: bool = True) -> list[_Step]:
    """Every step of a sweep, in order."""
    steps = [
        _Step(_contacts_mark_stale, _GONE_STALE, {"not_swept": NOT_SWEPT}),
        _Step(_contacts_stale_move, _STALE_MOVES, {"movable": _MOVABLE}),
        _Step(_reviews_fall_due, _REVIEW_FALLS_DUE, {}),
    ]
    for name in RULES:
        if name == "officer_absent":
            continue
        sweep = SWEEPS[name]
        if sweep.holds is not None:
            cleared = f"EXISTS (SELECT 1 FROM workflows_escalation x WHERE x.episode_id = e.id AND {_cleared(sweep)})"  # noqa: S608
            steps.append(_Step(_rule_resolve(sweep), cleared, {"rule": sweep.rule}))
        steps.append(_Step(_rule_raise(sweep), _raises(sweep), {"rule": sweep.rule, "not_swept": NOT_SWEPT}))
    if absence:
        steps.append(_Step(_absence_cover, _ABSENCE_MAY_MOVE, {}))
    if climb:
        steps.append(_Step(_climb))
    return steps


def _steps(climb: bool, absence: bool = True) -> list[Callable[[_Run], list[int]]]:
    """Every step of a sweep, in order."""
    return [step.act for step in _all_steps(climb, absence)]


def _event_steps_run(run: _Run, climb: bool) -> None:
    """The steps of the evaluation at an event (one episode), skipping those that would find
    nothing for it. One statement (the probe) asks every step's condition at once; the first step
    whose condition holds runs, and the steps after it are probed again, since what it did may
    change theirs. A skipped step would have found nothing, so it would have done nothing: the
    effect is that of running every step in order, in a few statements instead of some twenty."""
    steps = _all_steps(climb)
    while steps:
        due = _probe(run, steps)
        if due is None:
            return
        steps[due].act(run)
        steps = steps[due + 1 :]


def _probe(run: _Run, steps: list[_Step]) -> int | None:
    """The index of the first of ``steps`` whose condition holds for the run's episode (None: no
    step would find anything)."""
    columns, params = [], {}
    for i, step in enumerate(steps):
        if step.finds is None:
            columns.append("true")
            continue
        condition = step.finds
        for name, value in (step.params or {}).items():  # each step's parameters under their own names
            condition = condition.replace(f"%({name})s", f"%({name}_{i})s")
            params[f"{name}_{i}"] = value
        columns.append(f"COALESCE(({condition}), false)")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM {EPISODES} WHERE e.id = ANY(%(episode_ids)s)",  # noqa: S608 - fixed fragments
            run.params(**params),
        )
        row = cursor.fetchone()
    if row is None:  # not an episode of the run's LAs: every step needs it, so only the unconditional ones run
        return next((i for i, step in enumerate(steps) if step.finds is None), None)
    return next((i for i, holds in enumerate(row) if holds), None)


def _empty_counts() -> dict[str, dict[str, int]]:
    return {name: {"raised": 0, "resolved": 0, "climbed": 0, "moved": 0} for name in SWEEP_NAMES}


def sweep_run(
    *,
    as_of: datetime,
    la_code: str | None = None,
    dry_run: bool = False,
    episode_ids: Sequence[int] | None = None,
    climb: bool = True,
    batch_size: int | None = None,
    incremental: bool = False,
) -> dict[str, dict[str, int]]:
    """Evaluate every rule at ``as_of`` (aware; from Python, never the database's clock).

    Returns, per rule (and per automatic transition), how many escalations were raised, resolved
    and climbed and how many cases moved. ``la_code`` limits the sweep to one LA; ``dry_run``
    does all the work in transactions that are rolled back, so the counts are exact and nothing
    changes. ``episode_ids`` limits it to those episodes (the evaluation at an event), in one
    transaction (the caller's, when there is one).

    A full sweep runs alone (if another is running, SweepBusy is raised); each of its steps works
    through what it finds ``batch_size`` rows at a time (default ``EHE_SWEEP_BATCH``), each batch
    committed on its own: see the module's docstring. ``incremental`` (the periodic sweep) reads,
    in each LA with a mark to follow, only what has come due since the mark: see ``_sweep_due``.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    authorities = LocalAuthority.objects.filter(uses_service=True)
    if la_code is not None:
        authorities = LocalAuthority.objects.filter(dfe_code=la_code)
        if not authorities.exists():
            raise LocalAuthority.DoesNotExist(f"No local authority with the DfE code {la_code}")
    clocks = [LaClock.of(la, as_of) for la in authorities.order_by("pk")]
    if not clocks:
        return _empty_counts()
    if episode_ids is not None:
        return _episodes_evaluate(as_of=as_of, clocks=clocks, episode_ids=episode_ids, climb=climb, dry_run=dry_run)
    counts = _empty_counts()
    if not _lock(SWEEP_LOCK):
        raise SweepBusy("Another sweep is running")
    limit = batch_size or int(getattr(settings, "EHE_SWEEP_BATCH", 5000))
    try:
        full, since = _marks_followed(clocks, as_of) if incremental else (clocks, {})
        statistics_refresh()
        # A dry run is one transaction, rolled back at the end, so that each step sees what the
        # steps before it did (its batches become savepoints).
        with transaction.atomic() if dry_run else nullcontext():
            if full:
                run = _Run(as_of, full, None, counts, limit=limit)
                for done, step in enumerate(_steps(climb), start=1):
                    _in_batches(run, step)
                    if not dry_run and done % 8 == 0:
                        statistics_refresh()
            if since:
                _sweep_due(as_of, [c for c in clocks if c.local_authority.pk in since], since, counts, limit, climb)
            if dry_run:
                transaction.set_rollback(True)
        if not dry_run and climb:
            _marks_write(clocks, full, as_of)
    finally:
        _unlock(SWEEP_LOCK)
    if not dry_run:
        statistics_refresh()
        mode = f"incremental in {len(since)} LAs, full in {len(full)}" if incremental else "full"
        logger.info("Sweep at %s (%s): %s", as_of.isoformat(), mode, _summary(counts))
    return counts


# --- The periodic sweep: only what has come due since the last one ------------------------------
#
# Every rule's condition is either a fact of the case, which changes only at an event (and every
# service that changes a case evaluates the rules for it there and then, ``episode_rules_evaluate``),
# or a stored date or time reaching a threshold that moves forward with the clock: received N
# working days ago, a review date passed, the next action's date passed, verified M months ago, an
# audit action's date passed, an escalation's due time. So a sweep that follows one which finished
# at ``swept_to`` need only look at the cases whose dates crossed a threshold in between (a range
# read on an index, a day's worth of cases at most on a normal day), evaluate every rule for those
# exactly as an event does, climb the escalations that fell due in between, and move the cases of
# officers absent today. A full sweep runs instead for an LA without a mark, whose rule settings
# changed, or whose mark is more than CATCH_UP_LIMIT old (or earlier than ``as_of``), and nightly
# for every LA (the beat's "EHE full sweep"), so that a fact written outside the services is found
# within a day.

CATCH_UP_LIMIT = timedelta(days=7)

# Literal state lists, so that the planner can prove the queues' partial indexes apply.
_ACTIVE = "e.state IN ({})".format(", ".join(f"'{state}'" for state in ACTIVE_STATES))
_REVIEWS = "e.state IN ({})".format(", ".join(f"'{state}'" for state in REVIEW_STATES))

_STALE_CUT = (
    "((({moment})::timestamptz AT TIME ZONE 'Europe/London') - make_interval(months => la.contacts_stale_months))"
    " AT TIME ZONE 'Europe/London'"
)
# The cases whose dates crossed a rule's threshold between the mark (``prev_*``) and now: one
# branch per threshold, each a range read on an index of the LA's cases.
DUE_SQL = f"""
    WITH c AS MATERIALIZED (
        SELECT r.*,
               r.today - la.first_contact_days AS enquiry_by,
               r.prev_today - la.first_contact_days AS prev_enquiry_by,
               {_STALE_CUT.format(moment="r.prev_at")} AS prev_stale_cut,
               {_STALE_CUT.format(moment="%(as_of)s")} AS stale_cut
        FROM jsonb_to_recordset(%(due)s::jsonb) AS r(la_id bigint, prev_at timestamptz,
            today date, prev_today date, unverified_by date, prev_unverified_by date, cme_by date, prev_cme_by date,
            review_horizon date, prev_review_horizon date, review_passed_by date, prev_review_passed_by date)
        JOIN ehe_register_localauthority la ON la.id = r.la_id
    )
    SELECT DISTINCT found.id FROM (
        SELECT e.id FROM c JOIN workflows_episode e ON e.local_authority_id = c.la_id
        WHERE e.received_on > c.prev_unverified_by AND e.received_on <= c.unverified_by
        UNION ALL
        SELECT e.id FROM c JOIN workflows_episode e ON e.local_authority_id = c.la_id
        WHERE e.received_on > c.prev_cme_by AND e.received_on <= c.cme_by
        UNION ALL
        SELECT e.id FROM c JOIN workflows_episode e ON e.local_authority_id = c.la_id
        WHERE e.received_on > c.prev_enquiry_by AND e.received_on <= c.enquiry_by
        UNION ALL
        SELECT e.id FROM c JOIN workflows_episode e ON e.local_authority_id = c.la_id
        WHERE {_REVIEWS} AND e.review_due_on > c.prev_review_horizon AND e.review_due_on <= c.review_horizon
        UNION ALL
        SELECT e.id FROM c JOIN workflows_episode e ON e.local_authority_id = c.la_id
        WHERE {_REVIEWS} AND e.review_due_on > c.prev_review_passed_by AND e.review_due_on <= c.review_passed_by
        UNION ALL
        SELECT e.id FROM c JOIN workflows_episode e ON e.local_authority_id = c.la_id
        WHERE {_ACTIVE} AND e.next_action_due > c.prev_review_passed_by AND e.next_action_due <= c.review_passed_by
        UNION ALL
        SELECT e.id FROM c JOIN workflows_episode e ON e.local_authority_id = c.la_id
        WHERE e.contacts_stale_at IS NULL AND e.contacts_verified_at IS NOT NULL
          AND e.contacts_verified_at >= c.prev_stale_cut AND e.contacts_verified_at < c.stale_cut
        UNION ALL
        SELECT e.id FROM c JOIN workflows_episode e ON e.local_authority_id = c.la_id
        JOIN workflows_auditcase ac ON ac.episode_id = e.id JOIN workflows_auditaction a ON a.audit_case_id = ac.id
        WHERE a.completed_at IS NULL AND a.due_on > c.prev_review_passed_by AND a.due_on <= c.review_passed_by
    ) found
    JOIN workflows_episode e ON e.id = found.id
    WHERE e.state <> ALL(%(not_swept)s)
    ORDER BY found.id
"""  # noqa: S608 - fixed fragments only


def rule_settings(la: LocalAuthority) -> str:
    """The LA's settings that the rules' thresholds read: a mark made under other settings is not
    followed (the next sweep of the LA is a full one)."""
    return json.dumps(
        [
            la.contacts_unverified_working_days,
            la.contacts_stale_months,
            la.first_contact_days,
            la.review_warning_working_days,
            la.home_check_duty_commenced,
        ]
    )


def _marks_followed(clocks: list[LaClock], as_of: datetime) -> tuple[list[LaClock], dict[int, datetime]]:
    """Split the LAs into those swept in full and those followed from their mark (LA id: the
    moment the mark was made)."""
    marks = SweepMark.objects.in_bulk([clock.local_authority.pk for clock in clocks])
    full: list[LaClock] = []
    since: dict[int, datetime] = {}
    for clock in clocks:
        mark = marks.get(clock.local_authority.pk)
        if (
            mark is None
            or mark.settings != rule_settings(clock.local_authority)
            or not as_of - CATCH_UP_LIMIT <= mark.swept_to <= as_of
        ):
            full.append(clock)
        else:
            since[clock.local_authority.pk] = mark.swept_to
    return full, since


def _marks_write(clocks: list[LaClock], full: list[LaClock], as_of: datetime) -> None:
    """Every LA swept is swept to ``as_of``; those swept in full were last fully swept now."""
    in_full = {clock.local_authority.pk for clock in full}
    for swept, fields in (
        ([c for c in clocks if c.local_authority.pk in in_full], ["swept_to", "settings", "full_at"]),
        ([c for c in clocks if c.local_authority.pk not in in_full], ["swept_to", "settings"]),
    ):
        SweepMark.objects.bulk_create(
            [
                SweepMark(
                    local_authority=clock.local_authority,
                    swept_to=as_of,
                    settings=rule_settings(clock.local_authority),
                    full_at=as_of,
                )
                for clock in swept
            ],
            update_conflicts=True,
            unique_fields=["local_authority"],
            update_fields=fields,
        )


def _sweep_due(
    as_of: datetime,
    clocks: list[LaClock],
    since: dict[int, datetime],
    counts: dict[str, dict[str, int]],
    limit: int,
    climb: bool,
) -> None:
    """The incremental sweep of ``clocks``' LAs, each followed from its mark (``since``): the cases
    found by ``DUE_SQL`` are evaluated exactly as at an event, ``limit`` at a time, each batch its
    own transaction; then the absent officers' cases move and the escalations that fell due since
    the mark climb, as in a full sweep."""
    rows = []
    for clock in clocks:
        prev = LaClock.of(clock.local_authority, since[clock.local_authority.pk])
        row = clock.row()
        row.update({f"prev_{key}": value for key, value in prev.row().items() if key != "la_id"})
        row["prev_at"] = since[clock.local_authority.pk].isoformat()
        rows.append(row)
    with transaction.atomic(), connection.cursor() as cursor:
        # Each branch reads a narrow range of one LA's index. The planner cannot see how narrow
        # (the bounds come from the table of clocks), guesses a few per cent of the register, and
        # reads it all with hash joins: 9 s at 1,000,000 children against milliseconds per LA.
        cursor.execute(
            "SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"
        )
        cursor.execute(DUE_SQL, {"due": json.dumps(rows), "as_of": as_of, "not_swept": NOT_SWEPT})
        due = [row[0] for row in cursor.fetchall()]
    for start in range(0, len(due), limit):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            run = _Run(as_of, clocks, due[start : start + limit], counts)
            for step in _steps(climb=False, absence=False):
                step(run)
    run = _Run(as_of, clocks, None, counts, limit=limit, since=since)
    _in_batches(run, _absence_cover)
    if climb:
        _in_batches(run, _climb)


def _episodes_evaluate(
    *, as_of: datetime, clocks: list[LaClock], episode_ids: Sequence[int], climb: bool, dry_run: bool = False
) -> dict[str, dict[str, int]]:
    """``sweep_run`` limited to ``episode_ids``, in one transaction (the caller's, when there is
    one); for one episode, the steps that would find nothing are skipped (``_event_steps_run``)."""
    counts = _empty_counts()
    run = _Run(as_of, clocks, list(episode_ids), counts)
    with transaction.atomic(savepoint=dry_run):
        if len(episode_ids) == 1:
            _event_steps_run(run, climb)
        else:
            for step in _steps(climb):
                step(run)
        if dry_run:
            transaction.set_rollback(True)
    return counts


# The tables a sweep writes, whose statistics steer its own anti-joins.
SWEPT_TABLES = (
    "workflows_episode",
    "workflows_escalation",
    "workflows_escalationevent",
    "workflows_transitionlog",
    "notifications_message",
)


def statistics_refresh(tables: Sequence[str] = SWEPT_TABLES, *, threshold: float = 0.1) -> list[str]:
    """ANALYZE each table changed by more than ``threshold`` of its rows (and 1,000 rows) since its
    statistics were last gathered: after a bulk load or a first sweep, plans made on the old
    figures choose nested loops over hundreds of thousands of rows. Returns the tables analysed."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT relname FROM pg_stat_user_tables
            WHERE relname = ANY(%s) AND n_mod_since_analyze > GREATEST(1000, %s * n_live_tup)
            ORDER BY relname
            """,
            [list(tables), threshold],
        )
        stale = [row[0] for row in cursor.fetchall()]
        for table in stale:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    if stale:
        logger.info("Planner statistics refreshed: %s", ", ".join(stale))
    return stale


def episode_rules_evaluate(*, episode_id: int, as_of: datetime, clock_fresh: bool = False) -> dict[str, dict[str, int]]:
    """Evaluate every rule for one episode now: every service that changes a case calls it once,
    at the end of its transaction (an intake, an activity, a verification, an assignment, a
    decision). Raising is idempotent and cleared conditions resolve, exactly as the periodic sweep
    would do a little later, so the services raise and resolve nothing that a rule decides.

    The case's clock is recomputed first (``workflows.clocks``): an event that is not a
    transition (a first contact, an assignment) can start or end one, and the rules read it.
    ``clock_fresh``: the caller has just recomputed it (a transition does) and changed none of
    its facts since, so it is not recomputed again."""
    if not clock_fresh:
        episodes_next_action_due_refresh(episode_ids=[episode_id], as_of=as_of)
    # As sweep_run(la_code=...) for the episode's LA, without looking the LA up three times.
    la = LocalAuthority.objects.get(pk=Subquery(Episode.objects.filter(pk=episode_id).values("local_authority_id")))
    return _episodes_evaluate(as_of=as_of, clocks=[LaClock.of(la, as_of)], episode_ids=[episode_id], climb=False)


def _lock(key: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        return bool(cursor.fetchone()[0])  # type: ignore[index]


def _unlock(key: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _summary(counts: dict[str, dict[str, int]]) -> str:
    busy = {rule: {k: v for k, v in c.items() if v} for rule, c in counts.items() if any(c.values())}
    return json.dumps(busy) if busy else "nothing to do"
