"""Cover while a case's assigned officer is absent, and escalations that follow a case to its new holder.

The ``officer_absent`` rule (DESIGN section 5): when the assigned officer is absent today and the
case has work due within 5 working days (``next_action_due``) or an open escalation, the case
moves, by the LA's choice (``LocalAuthority.absence_cover``), to the team queue or to the
least-loaded available officer: the one with the fewest items due within 5 working days (cases
with a next action due, plus open escalations they own that fall due), absent officers excluded,
ties going to the smaller caseload. The EHE manager is told (a notify-only escalation per case,
whose log says where it went). Escalations the absent officer owned as the assigned officer
follow the case, and their new owner is told.

Nothing moves back when the officer returns: the manager decides that (``casework.episode_assign``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ehe_register.models import Absence, AbsenceCover, LocalAuthority, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON, add_working_days, at_local
from workflows.selectors import episodes_for
from workflows.services.escalations import (
    escalation_events_write,
    escalations_follow_assignment,
    escalations_raise_many,
    escalations_with_episode,
)
from workflows.states import ACTIVE_STATES

ABSENCE_HORIZON_WORKING_DAYS = 5


@dataclass(frozen=True)
class CaseMove:
    episode_id: int
    from_officer_id: int
    to_officer_id: int | None  # None: the team queue


@dataclass(frozen=True)
class AbsenceCoverResult:
    moves: list[CaseMove]
    raised: list[int]  # the officer_absent escalations written


def _clock(as_of: datetime, local_authorities: Sequence[LocalAuthority]) -> str:
    today = as_of.astimezone(LONDON).date()
    horizon = add_working_days(today, ABSENCE_HORIZON_WORKING_DAYS)
    return json.dumps(
        [
            {
                "la_id": la.pk,
                "today": today.isoformat(),
                "horizon": horizon.isoformat(),
                "horizon_ends": at_local(horizon + timedelta(days=1), time(0)).isoformat(),
                "least_loaded": la.absence_cover == AbsenceCover.LEAST_LOADED,
            }
            for la in local_authorities
        ]
    )


CLOCK = (
    "jsonb_to_recordset(%(clock)s::jsonb) AS c("
    "la_id bigint, today date, horizon date, horizon_ends timestamptz, least_loaded boolean)"
)
ABSENT_TODAY = """EXISTS (
    SELECT 1 FROM ehe_register_absence a
    WHERE a.officer_id = {officer} AND a.starts_on <= c.today AND (a.ends_on IS NULL OR a.ends_on >= c.today)
)"""


def absence_cover_apply(
    *, as_of: datetime, local_authorities: Sequence[LocalAuthority], episode_ids: Sequence[int] | None = None
) -> AbsenceCoverResult:
    """Move the cases of officers absent today that have work due soon or an open escalation.

    A few statements for all the LAs given: find (locking the cases), the load of each available
    officer where the LA gives cases to the least loaded, one update of the cases, one of the
    escalations that follow them, then the managers' notify-only escalations.
    """
    if not local_authorities:
        return AbsenceCoverResult([], [])
    clock = _clock(as_of, local_authorities)
    todays = [row["today"] for row in json.loads(clock)]
    params: dict[str, Any] = {
        "clock": clock,
        "earliest_today": min(todays),
        "latest_today": max(todays),
        "episode_ids": list(episode_ids or []),
        "officer_role": Role.EHE_OFFICER.value,
        "active": list(ACTIVE_STATES),
    }
    only = "AND e.id = ANY(%(episode_ids)s)" if episode_ids is not None else ""
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT e.id, e.local_authority_id, e.assigned_officer_id, c.least_loaded
                FROM workflows_episode e JOIN {CLOCK} ON c.la_id = e.local_authority_id
                WHERE e.state = ANY(%(active)s)
                  -- The officers absent on any LA's today first (a handful), then their open cases
                  -- through the officers' index of open cases (``episode_queue_mine``): the episodes
                  -- are never read in full, nor an absent officer's closed cases.
                  AND e.assigned_officer_id = ANY(ARRAY(
                      SELECT a.officer_id FROM ehe_register_absence a
                      WHERE a.starts_on <= %(latest_today)s AND (a.ends_on IS NULL OR a.ends_on >= %(earliest_today)s)))
                  AND {ABSENT_TODAY.format(officer="e.assigned_officer_id")}
                  AND (e.next_action_due <= c.horizon OR EXISTS (
                      SELECT 1 FROM workflows_escalation x WHERE x.episode_id = e.id AND x.resolved_at IS NULL))
                  {only}
                ORDER BY e.local_authority_id, e.next_action_due NULLS LAST, e.id
                FOR UPDATE OF e
                """,  # noqa: S608 - fixed fragments only
                params,
            )
            found = cursor.fetchall()
            if not found:
                return AbsenceCoverResult([], [])
            loads = _available_officers(cursor, params) if any(row[3] for row in found) else {}
        moves = []
        for episode_id, la_id, from_id, least_loaded in found:
            candidates = loads.get(la_id, {})
            to_id = None
            if least_loaded and candidates:
                to_id = min(candidates, key=lambda pk: (*candidates[pk], pk))
                load, caseload = candidates[to_id]
                candidates[to_id] = (load + 1, caseload + 1)
            moves.append(CaseMove(episode_id, from_id, to_id))
        notes = _move_notes(moves)
        _moves_apply(moves, notes, as_of)
        raised = escalations_raise_many(
            rule_name="officer_absent",
            episode_ids=[m.episode_id for m in moves],
            as_of=as_of,
            note="The assigned officer is absent",
            once_per_episode=False,
            details=notes,
        )
        escalation_events_write(
            [(e.pk, e.level, notes[e.episode_id]) for e in escalations_with_episode(raised)], "reassigned", as_of
        )
    return AbsenceCoverResult(moves, raised)


def _available_officers(cursor: Any, params: dict[str, Any]) -> dict[int, dict[int, tuple[int, int]]]:
    """{la_id: {officer_id: (items due within the horizon, open caseload)}} for the LAs that give
    cases to the least-loaded officer: active EHE officers who are not absent today."""
    cursor.execute(
        f"""
        SELECT u.id, u.local_authority_id,
            (SELECT count(*) FROM workflows_episode e
             WHERE e.assigned_officer_id = u.id AND e.state = ANY(%(active)s) AND e.next_action_due <= c.horizon)
          + (SELECT count(*) FROM workflows_escalation x
             WHERE x.owner_user_id = u.id AND x.resolved_at IS NULL AND x.due_at < c.horizon_ends),
            (SELECT count(*) FROM workflows_episode e WHERE e.assigned_officer_id = u.id AND e.state = ANY(%(active)s))
        FROM ehe_register_user u JOIN {CLOCK} ON c.la_id = u.local_authority_id
        WHERE c.least_loaded AND u.is_active
          AND EXISTS (SELECT 1 FROM ehe_register_user_groups ug JOIN auth_group g ON g.id = ug.group_id
                      WHERE ug.user_id = u.id AND g.name = %(officer_role)s)
          AND NOT {ABSENT_TODAY.format(officer="u.id")}
        """,  # noqa: S608 - fixed fragments only
        params,
    )
    loads: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)
    for officer_id, la_id, load, caseload in cursor.fetchall():
        loads[la_id][officer_id] = (load, caseload)
    return loads


def _move_notes(moves: Sequence[CaseMove]) -> dict[int, str]:
    ids = {m.from_officer_id for m in moves} | {m.to_officer_id for m in moves if m.to_officer_id}
    names = {user.pk: user.display_name for user in User.objects.filter(pk__in=ids)}
    return {
        m.episode_id: f"Moved from {names[m.from_officer_id]} (absent) to "
        + (names[m.to_officer_id] if m.to_officer_id else "the team queue")
        for m in moves
    }


def _moves_apply(moves: Sequence[CaseMove], notes: dict[int, str], as_of: datetime) -> None:
    rows = json.dumps([{"episode_id": m.episode_id, "to_id": m.to_officer_id} for m in moves])
    with connection.cursor() as cursor:
        cursor.execute(
            """
        UPDATE workflows_episode e
        SET assigned_officer_id = m.to_id, version = e.version + 1, last_changed_by_id = NULL, last_changed_at = %s
        FROM jsonb_to_recordset(%s::jsonb) AS m(episode_id bigint, to_id bigint)
        WHERE e.id = m.episode_id
        """,
            [as_of, rows],
        )
    escalations_follow_assignment([m.episode_id for m in moves], as_of, notes)


def absence_record(
    *, officer: User, kind: str, starts_on: date, ends_on: date | None, actor: User, as_of: datetime
) -> tuple[Absence, int]:
    """Record an officer's absence; returns it and how many cases moved at once.

    Refused: an officer recording someone else's absence, an officer of another LA, a start in
    the past, an end before the start, and an absence overlapping one already recorded.
    """
    today = timezone.localdate(as_of)
    if officer.local_authority_id != actor.local_authority_id or not officer.has_role(Role.EHE_OFFICER):
        raise ValidationError("Choose an EHE officer of your local authority")
    if not actor.has_role(Role.EHE_MANAGER) and officer.pk != actor.pk:
        raise PermissionDenied("Only an EHE manager can record another officer's absence")
    if starts_on < today:
        raise ValidationError("First day of absence must be today or in the future")
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError("Last day of absence must be the same as or after the first day")
    with transaction.atomic():
        # Two people recording the same officer's absence at once: one waits for the other.
        User.objects.select_for_update().filter(pk=officer.pk).first()
        overlapping = Absence.objects.filter(officer=officer).filter(
            Q(ends_on__isnull=True) | Q(ends_on__gte=starts_on)
        )
        if ends_on is not None:
            overlapping = overlapping.filter(starts_on__lte=ends_on)
        if overlapping.exists():
            raise ValidationError(f"{officer.display_name} is already recorded as absent for some of those days")
        absence = Absence.objects.create(
            officer=officer,
            kind=kind,
            starts_on=starts_on,
            ends_on=ends_on,
            recorded_by=actor,
            recorded_at=as_of,
        )
        moved = 0
        if starts_on == today:
            cases = list(
                episodes_for(actor)
                .filter(assigned_officer=officer, state__in=ACTIVE_STATES)
                .values_list("pk", flat=True)
            )
            if cases:
                la = officer.local_authority
                assert la is not None
                moved = len(absence_cover_apply(as_of=as_of, local_authorities=[la], episode_ids=cases).moves)
        return absence, moved
