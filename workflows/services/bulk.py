"""Set-based transitions for automatic work over many episodes, and bulk intake of existing records.

Each does in a few SQL statements exactly what the per-row path does: the same state change, the
same version bump, the same TransitionLog rows (tested against ``episode_transition``). This, the set-wise risk check of
``workflows.services.bulk_notifications`` and the benchmark's synthetic data builder are the only
code that writes ``Episode.state`` in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django_fsm import State as ComputedTarget

from ehe_register.models import Child
from workflows.actors import SYSTEM
from workflows.clocks import episodes_next_action_due_refresh, next_action_due_after
from workflows.models import Episode
from workflows.services.intake import IntakeRecord, intake_child, possible_matches_store
from workflows.states import Source, State

__all__ = ["BULK_TRANSITIONS", "IntakeRecord", "episodes_bulk_transition", "episodes_import"]

BULK_TRANSITIONS = ("review_falls_due", "contacts_went_stale", "concern_raised")
# What a transition's method sets besides the state, as SQL over the state before (``d.from_state``).
_ALSO_SET = {"concern_raised": ", resume_state = d.from_state"}


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
    *,
    transition: str,
    as_of: datetime,
    episodes: QuerySet[Episode] | None = None,
    episode_ids: Sequence[int] | None = None,
    reason: str = "",
) -> list[int]:
    """Apply an automatic transition to every episode in ``episodes`` (a queryset) or
    ``episode_ids`` (a list: a sweep's batch, passed as one array) that is in one of its sources.

    Returns the ids moved. Rows are locked; episodes in other states are left alone.
    """
    if transition not in BULK_TRANSITIONS:
        raise ValueError(f"{transition} is not an automatic transition")
    if (episodes is None) == (episode_ids is None):
        raise ValueError("Give episodes or episode_ids")
    sources, target = _machine(transition)
    if target in sources:
        raise ValueError(f"{transition} can leave a case in its state: it cannot run in bulk")
    chosen_params: Sequence[Any]
    if episode_ids is not None:
        chosen_sql, chosen_params = "SELECT unnest(%s::bigint[])", (list(episode_ids),)
    else:
        assert episodes is not None
        chosen_sql, chosen_params = episodes.values("id").query.sql_with_params()
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"""
                SELECT id FROM workflows_episode WHERE id IN ({chosen_sql}) AND state = ANY(%s)
                ORDER BY id FOR UPDATE
                """,  # noqa: S608 - the only interpolation is Django's own compiled, parameterised subquery
            [*chosen_params, sources],
        )
        locked = [row[0] for row in cursor.fetchall()]
        if not locked:
            return []
        # The case's clock for its new state, written with the state: one write of each row.
        dues = next_action_due_after(episode_ids=locked, as_of=as_of, state=target, transition=transition)
        rows = [
            {"id": pk, "from_state": from_state, "due": due.isoformat() if due else None}
            for pk, (from_state, due) in dues.items()
        ]
        cursor.execute(
            f"""
                WITH d AS (
                    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS d(id bigint, from_state text, due date)
                ), moved AS (
                    UPDATE workflows_episode e
                    SET state = %s, version = e.version + 1, last_changed_by_id = NULL, last_changed_at = %s,
                        next_action_due = d.due{_ALSO_SET.get(transition, "")}
                    FROM d WHERE e.id = d.id
                    RETURNING e.id, d.from_state
                )
                INSERT INTO workflows_transitionlog
                    (episode_id, from_state, to_state, transition, actor_id, actor_name, reason, payload, at)
                SELECT id, from_state, %s, %s, NULL, %s, %s, '{{}}'::jsonb, %s FROM moved
                RETURNING episode_id
                """,  # noqa: S608 - the only interpolation is a fixed fragment of _ALSO_SET
            [json.dumps(rows), target, as_of, target, transition, SYSTEM.display_name, reason, as_of],
        )
        return sorted(row[0] for row in cursor.fetchall())


IMPORT_SOURCES = (Source.IMPORT, Source.TRANSFER)


def episodes_import(*, records: Sequence[IntakeRecord], as_of: datetime, reason: str = "") -> list[Episode]:
    """Create episodes for existing records through the ``imported`` transition, set-wise.

    Each record's child is the known child it names or the one intake matching finds or creates
    (``intake_child``, the path a school's notification and a new case take, with likely matches
    kept for an officer). The episodes are created in ``notified``, with the facts the old record
    holds, and moved by one statement that writes the same TransitionLog rows as
    ``episode_transition(transition="imported")``. A record's own ``next_action_due`` (the date
    its old system held) is kept, named in the transition's payload as an explicit date is;
    otherwise the state's clock sets it (``workflows.clocks``). All or nothing.
    """
    for record in records:
        if record.source not in IMPORT_SOURCES:
            raise ValueError("Only imports and transfers enter the register in a later state")
        if record.state not in State.values:
            raise ValueError(f"{record.state!r} is not a state")
    known = dict(
        Child.objects.filter(pk__in=[r.known_child_id for r in records if r.known_child_id is not None]).values_list(
            "pk", "local_authority_id"
        )
    )
    for record in records:
        if record.known_child_id is not None and known.get(record.known_child_id) != record.local_authority_id:
            raise ValueError(f"Child {record.known_child_id} is not on this local authority's register")
    with transaction.atomic():
        child_ids = []
        for record in records:
            if record.known_child_id is not None:
                child_ids.append(record.known_child_id)
                continue
            found = intake_child(record, as_of=as_of)
            possible_matches_store(found, as_of=as_of)
            child_ids.append(found.child.pk)
        episodes = Episode.objects.bulk_create(
            [
                Episode(
                    child_id=child_id,
                    local_authority_id=r.local_authority_id,
                    source=r.source,
                    source_detail=r.source_detail,
                    opened_by_school=r.opened_by_school,
                    received_on=r.received(as_of),
                    opened_at=as_of,
                    reason_code=r.reason_code,
                    concern_at_intake=r.concern is not None,
                    special_school_placed_by_la=r.special_school_placed_by_la,
                    attendance_order_in_force=r.attendance_order_in_force,
                    assigned_officer_id=r.assigned_officer_id,
                    priority=r.priority,
                    review_due_on=r.review_due_on,
                    next_action_due=r.next_action_due,
                    contacts_verified_at=r.contacts_verified_at,
                    first_contact_at=r.first_contact_at,
                    child_seen_at_home_at=r.child_seen_at_home_at,
                    s437_served_on=r.s437_served_on,
                    s437_served_how=r.s437_served_how,
                    attendance_order_served_on=r.attendance_order_served_on,
                )
                for child_id, r in zip(child_ids, records, strict=True)
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
