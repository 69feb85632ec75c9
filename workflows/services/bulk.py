"""Set-based transitions for automatic work over many episodes, and bulk intake of existing records.

Each does in a few SQL statements exactly what the per-row path does: the same state change, the
same version bump, the same TransitionLog rows (tested against ``episode_transition``). This and
the benchmark's synthetic data builder are the only code that writes ``Episode.state`` in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django_fsm import State as ComputedTarget

from workflows.actors import SYSTEM
from workflows.clocks import episodes_next_action_due_refresh
from workflows.models import Episode
from workflows.states import Source, State

BULK_TRANSITIONS = ("review_falls_due", "contacts_went_stale")


def _machine(transition: str) -> tuple[list[str], str]:
    """(source states, target) of a transition with a fixed target, read from the machine."""
    sources: list[str] = []
    target = None
    conditions = []
    for t in Episode._meta.get_field("state").get_all_transitions(Episode):  # type: ignore[attr-defined]
        if t.name == transition:
            sources.append(str(t.source))
            target = t.target
            conditions += t.conditions
    if target is None or isinstance(target, ComputedTarget) or conditions:
        raise ValueError(f"{transition} cannot run in bulk")
    return sources, str(target)


def episodes_bulk_transition(
    *, transition: str, episodes: QuerySet[Episode], as_of: datetime, reason: str = ""
) -> list[int]:
    """Apply an automatic transition to every episode in ``episodes`` that is in one of its sources.

    Returns the ids moved. Rows are locked; episodes in other states are left alone.
    """
    if transition not in BULK_TRANSITIONS:
        raise ValueError(f"{transition} is not an automatic transition")
    sources, target = _machine(transition)
    chosen_sql, chosen_params = episodes.values("id").query.sql_with_params()
    sql = f"""
        WITH candidates AS (
            SELECT id, state FROM workflows_episode
            WHERE id IN ({chosen_sql}) AND state = ANY(%s)
            ORDER BY id FOR UPDATE
        ), moved AS (
            UPDATE workflows_episode e
            SET state = %s, version = e.version + 1, last_changed_by_id = NULL, last_changed_at = %s
            FROM candidates c WHERE e.id = c.id
            RETURNING e.id, c.state AS from_state
        )
        INSERT INTO workflows_transitionlog
            (episode_id, from_state, to_state, transition, actor_id, actor_name, reason, payload, at)
        SELECT id, from_state, %s, %s, NULL, %s, %s, '{{}}'::jsonb, %s FROM moved
        RETURNING episode_id
    """  # noqa: S608 - the only interpolation is Django's own compiled, parameterised subquery
    params = [*chosen_params, sources, target, as_of, target, transition, SYSTEM.display_name, reason, as_of]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            moved = sorted(row[0] for row in cursor.fetchall())
        episodes_next_action_due_refresh(episode_ids=moved, as_of=as_of)
        return moved


@dataclass(frozen=True)
class IntakeRecord:
    """An existing case entering the register in a later state (legacy migration, transfer in)."""

    child_id: int
    local_authority_id: int
    state: str
    received_on: date
    source_detail: str
    assigned_officer_id: int | None = None
    review_due_on: date | None = None
    next_action_due: date | None = None
    reason_code: str = ""


def episodes_import(
    *, records: Sequence[IntakeRecord], source: Source, as_of: datetime, reason: str = ""
) -> list[Episode]:
    """Create episodes for existing records through the ``imported`` transition, set-wise.

    The episodes are created in ``notified`` and moved by one statement that writes the same
    TransitionLog rows as ``episode_transition(transition="imported")``. A record's own
    ``next_action_due`` (the date its old system held) is kept, named in the transition's payload
    as an explicit date is; otherwise the state's clock sets it (``workflows.clocks``).
    """
    if source not in (Source.IMPORT, Source.TRANSFER):
        raise ValueError("Only imports and transfers enter the register in a later state")
    for record in records:
        if record.state not in State.values:
            raise ValueError(f"{record.state!r} is not a state")
    with transaction.atomic():
        episodes = Episode.objects.bulk_create(
            [
                Episode(
                    child_id=r.child_id,
                    local_authority_id=r.local_authority_id,
                    source=source,
                    source_detail=r.source_detail,
                    received_on=r.received_on,
                    opened_at=as_of,
                    assigned_officer_id=r.assigned_officer_id,
                    review_due_on=r.review_due_on,
                    reason_code=r.reason_code,
                )
                for r in records
            ]
        )
        targets: list[Any] = [
            [e.pk, r.state, r.next_action_due.isoformat() if r.next_action_due else None]
            for e, r in zip(episodes, records, strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                """
                WITH targets AS (
                    SELECT (t->>0)::bigint AS id, t->>1 AS state, t->>2 AS next_action_due
                    FROM jsonb_array_elements(%s::jsonb) t
                ), moved AS (
                    UPDATE workflows_episode e
                    SET state = t.state, version = e.version + 1, last_changed_at = %s
                    FROM targets t WHERE e.id = t.id AND e.state = 'notified'
                    RETURNING e.id, e.state, t.next_action_due
                )
                INSERT INTO workflows_transitionlog
                    (episode_id, from_state, to_state, transition, actor_id, actor_name, reason, payload, at)
                SELECT id, 'notified', state, 'imported', NULL, %s, %s,
                       jsonb_strip_nulls(jsonb_build_object('state', state, 'next_action_due', next_action_due)), %s
                FROM moved
                """,
                [_json(targets), as_of, SYSTEM.display_name, reason, as_of],
            )
        episodes_next_action_due_refresh(episode_ids=[e.pk for e in episodes], as_of=as_of)
    return list(Episode.objects.filter(pk__in=[e.pk for e in episodes]).order_by("pk"))


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
