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
from datetime import datetime, time, timedelta
from typing import Any

from django.db import connection, transaction

from ehe_register.models import AbsenceCover, LocalAuthority, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON, add_working_days, at_local
from workflows.actors import SYSTEM, actor_name
from workflows.escalation_rules import RULES, Owner
from workflows.services.escalations import (
    TEAM_QUEUE_ROLE,
    escalations_raise_many,
    escalations_tell,
    escalations_with_episode,
)

ABSENCE_HORIZON_WORKING_DAYS = 5

# (rule, level) pairs whose owner is "the assigned officer": these follow the case when it moves.
OFFICER_OWNED_RUNGS = [
    {"rule": name, "level": level}
    for name, rule in RULES.items()
    for level, rung in enumerate(rule.rungs, start=1)
    if rung.owner == Owner.ASSIGNED_OFFICER
]


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
    params: dict[str, Any] = {
        "clock": _clock(as_of, local_authorities),
        "episode_ids": list(episode_ids or []),
        "officer_role": Role.EHE_OFFICER.value,
    }
    only = "AND e.id = ANY(%(episode_ids)s)" if episode_ids is not None else ""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT e.id, e.local_authority_id, e.assigned_officer_id, c.least_loaded
                FROM workflows_episode e JOIN {CLOCK} ON c.la_id = e.local_authority_id
                WHERE e.state <> 'closed' AND e.assigned_officer_id IS NOT NULL
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
        _events_write(
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
             WHERE e.assigned_officer_id = u.id AND e.state <> 'closed' AND e.next_action_due <= c.horizon)
          + (SELECT count(*) FROM workflows_escalation x
             WHERE x.owner_user_id = u.id AND x.resolved_at IS NULL AND x.due_at < c.horizon_ends),
            (SELECT count(*) FROM workflows_episode e WHERE e.assigned_officer_id = u.id AND e.state <> 'closed')
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


def escalations_follow_assignment(
    episode_ids: list[int], as_of: datetime, notes: dict[int, str] | None = None, actor: Any = SYSTEM
) -> list[int]:
    """Open escalations owned by "the assigned officer" follow the case to whoever holds it now
    (or to the team queue), each with a log entry, and their new owner is told. Returns their ids.

    Call it after any change of ``assigned_officer`` (absence cover does; an assignment service should).
    """
    notes = notes or {}
    if not OFFICER_OWNED_RUNGS or not episode_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE workflows_escalation x
            SET owner_user_id = e.assigned_officer_id,
                owner_role = CASE WHEN e.assigned_officer_id IS NULL THEN %(team_role)s ELSE '' END
            FROM workflows_episode e, jsonb_to_recordset(%(rungs)s::jsonb) AS r(rule text, level int)
            WHERE e.id = x.episode_id AND x.episode_id = ANY(%(ids)s) AND x.resolved_at IS NULL
              AND r.rule = x.rule AND r.level = x.level
              AND x.owner_user_id IS DISTINCT FROM e.assigned_officer_id
            RETURNING x.id
            """,
            {"team_role": TEAM_QUEUE_ROLE.value, "rungs": json.dumps(OFFICER_OWNED_RUNGS), "ids": episode_ids},
        )
        followed = escalations_with_episode(row[0] for row in cursor.fetchall())
    _events_write([(e.pk, e.level, notes.get(e.episode_id, "")) for e in followed], "reassigned", as_of, actor)
    escalations_tell(followed, lambda _: (Owner.ASSIGNED_OFFICER,), as_of, f"reassigned:{as_of.isoformat()}")
    return [e.pk for e in followed]


def _events_write(rows: list[tuple[int, int, str]], kind: str, as_of: datetime, actor: Any = SYSTEM) -> None:
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO workflows_escalationevent (escalation_id, kind, level, actor_name, note, at)
            SELECT r.escalation_id, %s, r.level, %s, r.note, %s
            FROM jsonb_to_recordset(%s::jsonb) AS r(escalation_id bigint, level int, note text)
            """,
            [
                kind,
                actor_name(actor),
                as_of,
                json.dumps([{"escalation_id": pk, "level": level, "note": note} for pk, level, note in rows]),
            ],
        )
