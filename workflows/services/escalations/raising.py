"""Raise, climb, acknowledge and resolve escalations: one idempotent service for every rule.

At most one escalation is open per (episode, rule) (a partial unique index); raising again returns
the open one. Climbing raises the level of that same row. Each change writes an EscalationEvent
and the messages to the people concerned, in the caller's transaction.

Two shapes of each write: one escalation at a time (``escalation_raise``, ``escalation_climb``,
``escalation_resolve``), for events on one case; and set-based (``escalations_raise_many``,
``escalations_climb_due`` and ``escalations_climb_batch``, ``escalations_resolve_many``), for the
sweeps, which write any number of escalations, their events and their messages in a handful of
statements.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON
from notifications.models import Channel
from notifications.services import MessageSpec, message_enqueue, messages_enqueue_many
from workflows.actors import SYSTEM, actor_name
from workflows.escalation_rules import RULES, External, Owner, Recipient, Rule
from workflows.models import AuditAction, Episode, Escalation, EscalationEvent, case_reference
from workflows.overdue import latest_start

TEAM_QUEUE_ROLE = Role.EHE_OFFICER  # who owns "the assigned officer's" escalation on an unassigned case


@dataclass(frozen=True, eq=False)
class EpisodeTold:
    """What telling people about an escalation reads of its case."""

    pk: int
    local_authority: LocalAuthority
    assigned_officer_id: int | None
    social_worker_email: str

    @property
    def reference(self) -> str:
        return case_reference(self.local_authority.dfe_code, self.pk)


@dataclass(frozen=True, eq=False)
class EscalationTold:
    """What telling people about an escalation reads (``_messages_for``): loaded by
    ``escalations_with_episode`` for a sweep's thousands without building three models per row."""

    pk: int
    episode_id: int
    local_authority_id: int
    rule: str
    level: int
    due_at: datetime | None
    raised_at: datetime
    episode: EpisodeTold


# ``_messages_for`` reads the same attributes of either (one escalation at an event, told rows in bulk).
AnyEscalation = Escalation | EscalationTold


def _owner_for(recipient: Recipient, episode: Episode) -> tuple[str, User | None]:
    """(owner role, owner user) for a rung's owner. An unassigned case goes to the team queue."""
    if recipient == Owner.ASSIGNED_OFFICER:
        if episode.assigned_officer_id:
            return "", episode.assigned_officer
        return TEAM_QUEUE_ROLE.value, None
    return str(recipient), None


def _tell(escalation: Escalation, recipients: Iterable[Recipient], as_of: datetime, occasion: str) -> None:
    """Write a message for each person (in the service and by email) or external inbox concerned."""
    told = tuple(recipients)
    for spec in _messages_for([escalation], lambda _: told, occasion):
        message_enqueue(**asdict(spec), as_of=as_of)


def escalations_tell(
    escalations: Sequence[EscalationTold],
    recipients_of: Callable[[EscalationTold], Iterable[Recipient]],
    as_of: datetime,
    occasion: str,
    details: Mapping[int, str] | None = None,
) -> list[int]:
    """The messages for many escalations in one statement (plus one query for the people).

    Escalations come from ``escalations_with_episode``.
    """
    return messages_enqueue_many(messages=_messages_for(escalations, recipients_of, occasion, details), as_of=as_of)


FRONT_DOOR_TEMPLATE = "emails/escalation_front_door"


def tells_front_door(occasion: str) -> bool:
    """The occasions on which a safeguarding escalation goes to the front door's own inbox: when
    it is raised, and each time a further concern is added to it (``concern:<id>``)."""
    return occasion == "raised" or occasion.startswith("concern:")


def _messages_for(
    escalations: Sequence[AnyEscalation],
    recipients_of: Callable[[Any], Iterable[Recipient]],
    occasion: str,
    details: Mapping[int, str] | None = None,
) -> list[MessageSpec]:
    """Who is told about each escalation, and what (DESIGN section 5, "Who is told").

    - A safeguarding escalation emails the LA's front-door inbox (a team mailbox watched by the
      duty rota) when it is raised and when a concern is added: the case reference and a link.
    - A per-case push (in-app and email) goes to a named person only: the assigned officer who
      owns the escalation. An escalation owned by a role or the team queue is not pushed to each
      holder of the role: it shows on their "Escalations for you" list, in the queue and in the
      digest, because alerts nobody in particular can act on teach people to ignore alerts.
    - When a safeguarding escalation climbs, the named role's users are told as well: the
      C-SPA manager or head of service must know at once that a concern is now theirs.
    - Recipients outside the product (the SEN inbox, an allocated social worker) get the case
      reference and the summary only.
    """
    wanted: dict[AnyEscalation, tuple[Recipient, ...]] = {e: tuple(recipients_of(e)) for e in escalations}
    climbing_safeguarding = occasion == "climbed"
    roles: set[str] = set()
    if climbing_safeguarding:
        for escalation, recipients in wanted.items():
            if RULES[escalation.rule].safeguarding:
                roles.update(r.value for r in recipients if isinstance(r, Role))
    people: dict[tuple[int, str], list[int]] = defaultdict(list)
    action_owners = _audit_action_owners(e for e, told in wanted.items() if Owner.AUDIT_ACTION_OWNERS in told)
    if roles:
        rows = (
            User.objects.filter(
                local_authority_id__in={e.local_authority_id for e in wanted}, groups__name__in=roles, is_active=True
            )
            .values_list("local_authority_id", "groups__name", "pk")
            .order_by("pk")
        )
        for la_id, role, pk in rows:
            if la_id is not None:
                people[(la_id, role)].append(pk)
    specs: list[MessageSpec] = []
    for escalation, recipients in wanted.items():
        episode = escalation.episode
        la = episode.local_authority
        rule = RULES[escalation.rule]
        summary = rule.summary
        payload: dict[str, Any] = {
            "rule": escalation.rule,
            "summary": summary,
            "level": escalation.level,
            "episode_id": episode.pk,
            "escalation_id": escalation.pk,
            "case_reference": episode.reference,
            "due_at": timezone.localtime(escalation.due_at, LONDON).isoformat() if escalation.due_at else None,
        }
        if details and details.get(episode.pk):
            payload["detail"] = details[episode.pk]
        if rule.safeguarding and tells_front_door(occasion) and la.front_door_email:
            specs.append(
                MessageSpec(
                    template=FRONT_DOOR_TEMPLATE,
                    idempotency_key=f"escalation:{escalation.pk}:{occasion}:front_door",
                    channel=Channel.EMAIL,
                    recipient_email=la.front_door_email,
                    local_authority_id=la.pk,
                    payload={
                        "rule": escalation.rule,
                        "summary": summary,
                        "episode_id": episode.pk,
                        "escalation_id": escalation.pk,
                        "case_reference": episode.reference,
                        "front_door_name": la.front_door_short_name,
                        "further_concern": occasion.startswith("concern:"),
                    },
                )
            )
        for recipient in recipients:
            key = f"escalation:{escalation.pk}:{occasion}:{escalation.level}:{recipient}"
            if isinstance(recipient, External):
                email = la.sen_team_email if recipient == External.SEN_TEAM else _social_worker_email(escalation)
                if email:
                    specs.append(
                        MessageSpec(
                            template="emails/escalation_external",
                            idempotency_key=key,
                            channel=Channel.EMAIL,
                            recipient_email=email,
                            local_authority_id=la.pk,
                            payload={"case_reference": episode.reference, "summary": summary},
                        )
                    )
                continue
            if recipient == Owner.ASSIGNED_OFFICER:
                # The named owner; an unassigned case's escalation sits in the team queue instead.
                person_ids = [episode.assigned_officer_id] if episode.assigned_officer_id else []
            elif recipient == Owner.AUDIT_ACTION_OWNERS:
                person_ids = action_owners.get(escalation.pk, [])
            elif climbing_safeguarding and rule.safeguarding and isinstance(recipient, Role):
                person_ids = people[(la.pk, recipient.value)]
            else:
                person_ids = []
            for person_id in person_ids:
                for channel in (Channel.IN_APP, Channel.EMAIL):
                    specs.append(
                        MessageSpec(
                            template="emails/escalation",
                            idempotency_key=f"{key}:{person_id}:{channel}",
                            channel=channel,
                            recipient_user_id=person_id,
                            local_authority_id=la.pk,
                            payload=payload,
                        )
                    )
    return specs


def _audit_action_owners(escalations: Iterable[AnyEscalation]) -> dict[int, list[int]]:
    """By escalation id: the active owners of the case's open quality-audit actions that were
    overdue when it was raised (due on or before the day the ``audit_action_overdue`` sweep
    counts as passed). One query for any number of escalations."""
    passed_by: dict[int, date] = {}
    by_episode: dict[int, list[int]] = defaultdict(list)
    for escalation in escalations:
        passed_by[escalation.pk] = latest_start(timezone.localtime(escalation.raised_at, LONDON).date(), 1)
        by_episode[escalation.episode_id].append(escalation.pk)
    if not passed_by:
        return {}
    owners: dict[int, list[int]] = defaultdict(list)
    rows = (
        AuditAction.objects.filter(
            audit_case__episode_id__in=list(by_episode),
            completed_at__isnull=True,
            due_on__lte=max(passed_by.values()),
            owner__is_active=True,
        )
        .values_list("audit_case__episode_id", "owner_id", "due_on")
        .order_by("owner_id")
    )
    for episode_id, owner_id, due_on in rows:
        for pk in by_episode[episode_id]:
            if due_on <= passed_by[pk] and owner_id not in owners[pk]:
                owners[pk].append(owner_id)
    return dict(owners)


def _event(escalation: Escalation, kind: str, actor: Any, as_of: datetime, note: str = "") -> None:
    EscalationEvent.objects.create(
        escalation=escalation, kind=kind, level=escalation.level, actor_name=actor_name(actor), note=note, at=as_of
    )


def escalation_raise(
    *, episode: Episode, rule_name: str, as_of: datetime, actor: Any = SYSTEM, note: str = ""
) -> tuple[Escalation, bool]:
    """Open ``rule_name`` on ``episode`` unless it is already open. Returns (escalation, created).

    A notify-only rule tells its recipients once per episode and is recorded as resolved at once.
    """
    rule = RULES[rule_name]
    if rule.notify_only:
        done = Escalation.objects.filter(episode=episode, rule=rule_name).first()
        if done is not None:
            return done, False
    else:
        existing = Escalation.objects.filter(episode=episode, rule=rule_name, resolved_at__isnull=True).first()
        if existing is not None:
            return existing, False
    rung = rule.rung(1)
    owner_role, owner_user = _owner_for(rung.owner, episode)
    try:
        with transaction.atomic():
            escalation = Escalation.objects.create(
                episode=episode,
                local_authority_id=episode.local_authority_id,
                rule=rule_name,
                level=1,
                owner_role=owner_role,
                owner_user=owner_user,
                recipients=[str(r) for r in rung.also_tell],
                raised_at=as_of,
                due_at=rung.due(as_of, episode.local_authority) if rung.due else None,
                resolved_at=as_of if rule.notify_only else None,
                resolved_by_name=SYSTEM.display_name if rule.notify_only else "",
            )
    except IntegrityError:
        # Raised at the same moment by another transaction: theirs is the one.
        return Escalation.objects.get(episode=episode, rule=rule_name, resolved_at__isnull=True), False
    _event(escalation, "raised", actor, as_of, note)
    _tell(escalation, (rung.owner, *rung.also_tell, *rule.tell), as_of, "raised")
    return escalation, True


def escalation_climb(*, escalation_id: int, as_of: datetime) -> Escalation | None:
    """Move an unacknowledged escalation past its due time up one rung; None if it cannot climb."""
    escalation = (
        Escalation.objects.select_for_update(of=("self",))
        .select_related("episode__local_authority", "episode__child")
        .get(pk=escalation_id)
    )
    rule: Rule = RULES[escalation.rule]
    if (
        rule.notify_only
        or escalation.resolved_at is not None
        or escalation.acknowledged_at is not None
        or escalation.level >= rule.top_level
        or escalation.due_at is None
        or escalation.due_at > as_of
    ):
        return None
    escalation.level += 1
    rung = rule.rung(escalation.level)
    escalation.owner_role, escalation.owner_user = _owner_for(rung.owner, escalation.episode)
    escalation.due_at = rung.due(as_of, escalation.episode.local_authority) if rung.due else None
    escalation.save(update_fields=["level", "owner_role", "owner_user", "due_at"])
    _event(escalation, "climbed", SYSTEM, as_of, f"Not acknowledged in time: now level {escalation.level}")
    _tell(escalation, (rung.owner, *rung.also_tell), as_of, "climbed")
    return escalation


def escalation_acknowledge(*, escalation: Escalation, actor: Any, as_of: datetime, note: str = "") -> Escalation:
    """Record that ``actor`` has the escalation in hand (idempotent). An acknowledged escalation
    stays at its level until it is resolved: ``escalations_climb_due`` and ``escalation_climb``
    skip it (DESIGN section 5). Users act through ``escalation_acknowledge_as``, which checks who
    may and refuses a stale page."""
    if escalation.acknowledged_at is None:
        escalation.acknowledged_by = actor
        escalation.acknowledged_at = as_of
        escalation.save(update_fields=["acknowledged_by", "acknowledged_at"])
        _event(escalation, "acknowledged", actor, as_of, note)
    return escalation


def escalation_resolve(
    *,
    episode: Episode,
    rule_name: str,
    as_of: datetime,
    actor: Any = SYSTEM,
    decision: str = "",
    reference: str = "",
    note: str = "",
) -> Escalation | None:
    """Resolve the open escalation of ``rule_name`` on ``episode`` (None if none is open)."""
    escalation = (
        Escalation.objects.select_for_update(of=("self",))
        .filter(episode=episode, rule=rule_name, resolved_at__isnull=True)
        .first()
    )
    if escalation is None:
        return None
    escalation.resolved_at = as_of
    escalation.resolved_by_name = actor_name(actor)
    escalation.decision = decision
    escalation.decision_reference = reference
    escalation.decision_note = note
    escalation.save(
        update_fields=["resolved_at", "resolved_by_name", "decision", "decision_reference", "decision_note"]
    )
    _event(escalation, "resolved", actor, as_of, note or decision)
    return escalation


_TOLD_LA_FIELDS = ("id", "dfe_code", "front_door_email", "front_door_short_name", "sen_team_email")


def escalations_with_episode(escalation_ids: Iterable[int]) -> list[EscalationTold]:
    """The escalations, in id order, with what telling people about them reads: two queries (the
    escalations with their cases, and their LAs, one object per LA)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT x.id, x.episode_id, x.local_authority_id, x.rule, x.level, x.due_at, x.raised_at,
                   e.local_authority_id, e.assigned_officer_id, ch.social_worker_email
            FROM workflows_escalation x
            JOIN workflows_episode e ON e.id = x.episode_id
            JOIN ehe_register_child ch ON ch.id = e.child_id
            WHERE x.id = ANY(%s)
            ORDER BY x.id
            """,
            [list(escalation_ids)],
        )
        rows = cursor.fetchall()
    authorities = LocalAuthority.objects.only(*_TOLD_LA_FIELDS).in_bulk({row[7] for row in rows})
    return [
        EscalationTold(
            pk=pk,
            episode_id=episode_id,
            local_authority_id=la_id,
            rule=rule,
            level=level,
            due_at=due_at,
            raised_at=raised_at,
            episode=EpisodeTold(episode_id, authorities[episode_la_id], officer_id, social_worker_email or ""),
        )
        for (
            pk,
            episode_id,
            la_id,
            rule,
            level,
            due_at,
            raised_at,
            episode_la_id,
            officer_id,
            social_worker_email,
        ) in rows
    ]


def _social_worker_email(escalation: Escalation | EscalationTold) -> str:
    """The allocated social worker's email, from the told row or from the child."""
    if isinstance(escalation, EscalationTold):
        return escalation.episode.social_worker_email
    return escalation.episode.child.social_worker_email


def escalations_raise_many(
    *,
    rule_name: str,
    episode_ids: Sequence[int],
    as_of: datetime,
    note: str = "",
    once_per_episode: bool | None = None,
    details: Mapping[int, str] | None = None,
) -> list[int]:
    """Raise ``rule_name`` on every episode in ``episode_ids`` where it is not open; returns the new
    escalations' ids. Exactly what ``escalation_raise`` does per episode, in a few statements.

    ``once_per_episode`` (default: for notify-only rules) skips episodes that ever had the rule.
    A notify-only rule's rows are resolved as they are written. ``details`` (by episode id) adds a
    line to the messages, such as where a case moved.
    """
    if not episode_ids:
        return []
    rule = RULES[rule_name]
    rung = rule.rung(1)
    once = rule.notify_only if once_per_episode is None else once_per_episode
    las = LocalAuthority.objects.filter(
        pk__in=RawSQL(
            "SELECT DISTINCT local_authority_id FROM workflows_episode WHERE id = ANY(%s)", [list(episode_ids)]
        )
    )
    dues = [{"la_id": la.pk, "due_at": rung.due(as_of, la).isoformat() if rung.due else None} for la in las]
    to_assigned = rung.owner == Owner.ASSIGNED_OFFICER
    never_had = (
        "AND NOT EXISTS (SELECT 1 FROM workflows_escalation p WHERE p.episode_id = e.id AND p.rule = %(rule)s)"
        if once
        else ""
    )
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH found AS (
                SELECT e.id, e.local_authority_id, e.assigned_officer_id FROM workflows_episode e
                WHERE e.id = ANY(%(ids)s) {never_had}
            ), inserted AS (
                INSERT INTO workflows_escalation
                    (episode_id, local_authority_id, rule, level, owner_role, owner_user_id, recipients, raised_at,
                     due_at, acknowledged_at, acknowledged_by_id, decision, decision_reference, decision_note,
                     resolved_at, resolved_by_name)
                SELECT f.id, f.local_authority_id, %(rule)s, 1,
                       CASE WHEN NOT %(to_assigned)s THEN %(owner_role)s
                            WHEN f.assigned_officer_id IS NULL THEN %(team_role)s ELSE '' END,
                       CASE WHEN %(to_assigned)s THEN f.assigned_officer_id END,
                       %(recipients)s::jsonb, %(as_of)s, d.due_at, NULL::timestamptz, NULL::bigint, '', '', '',
                       %(resolved_at)s::timestamptz, %(resolved_by)s
                FROM found f
                JOIN jsonb_to_recordset(%(dues)s::jsonb) AS d(la_id bigint, due_at timestamptz)
                    ON d.la_id = f.local_authority_id
                ORDER BY f.id
                ON CONFLICT (episode_id, rule) WHERE resolved_at IS NULL DO NOTHING
                RETURNING id, level
            )
            INSERT INTO workflows_escalationevent (escalation_id, kind, level, actor_name, note, at)
            SELECT id, 'raised', level, %(actor)s, %(note)s, %(as_of)s FROM inserted
            RETURNING escalation_id
            """,  # noqa: S608 - the only interpolation is a fixed fragment chosen above
            {
                "ids": list(episode_ids),
                "rule": rule_name,
                "to_assigned": to_assigned,
                "owner_role": "" if to_assigned else str(rung.owner),
                "team_role": TEAM_QUEUE_ROLE.value,
                "recipients": json.dumps([str(r) for r in rung.also_tell]),
                "as_of": as_of,
                "resolved_at": as_of if rule.notify_only else None,
                "resolved_by": SYSTEM.display_name if rule.notify_only else "",
                "dues": json.dumps(dues),
                "actor": SYSTEM.display_name,
                "note": note,
            },
        )
        raised = sorted(row[0] for row in cursor.fetchall())
        if raised:
            escalations_tell(
                escalations_with_episode(raised),
                lambda _: (rung.owner, *rung.also_tell, *rule.tell),
                as_of,
                "raised",
                details,
            )
    return raised


def escalations_resolve_many(*, escalation_ids: Sequence[int], as_of: datetime, note: str) -> list[int]:
    """Resolve open escalations whose condition has cleared, each with a log entry; returns the ids.

    Safeguarding escalations are never resolved here: only a decision resolves them.
    """
    if not escalation_ids:
        return []
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH resolved AS (
                UPDATE workflows_escalation
                SET resolved_at = %(as_of)s, resolved_by_name = %(actor)s, decision_note = %(note)s
                WHERE id = ANY(%(ids)s) AND resolved_at IS NULL AND NOT (rule = ANY(%(safeguarding)s))
                RETURNING id, level
            )
            INSERT INTO workflows_escalationevent (escalation_id, kind, level, actor_name, note, at)
            SELECT id, 'resolved', level, %(actor)s, %(note)s, %(as_of)s FROM resolved
            RETURNING escalation_id
            """,
            {
                "ids": list(escalation_ids),
                "as_of": as_of,
                "actor": SYSTEM.display_name,
                "note": note,
                "safeguarding": [name for name, rule in RULES.items() if rule.safeguarding],
            },
        )
        return sorted(row[0] for row in cursor.fetchall())


def escalations_climb_due(
    *, as_of: datetime, local_authorities: Sequence[LocalAuthority], episode_ids: Sequence[int] | None = None
) -> dict[str, int]:
    """Climb every open, unacknowledged escalation past its due time one rung, on the same row, and
    tell the new owners (``escalations_climb_batch`` over all of them). Returns counts by rule."""
    counts: dict[str, int] = defaultdict(int)
    for escalation in escalations_climb_batch(
        as_of=as_of, local_authorities=local_authorities, episode_ids=episode_ids
    ):
        counts[escalation.rule] += 1
    return dict(counts)


_EPOCH = datetime.min.replace(tzinfo=UTC)  # before any due time


def escalations_climb_batch(
    *,
    as_of: datetime,
    local_authorities: Sequence[LocalAuthority],
    episode_ids: Sequence[int] | None = None,
    after: int = 0,
    limit: int | None = None,
    since: Mapping[int, datetime] | None = None,
) -> list[EscalationTold]:
    """Climb open, unacknowledged escalations past their due time one rung, on the same row: all of
    them, or (with ``limit``) the first ``limit`` by id after ``after``, for a sweep's batches.
    ``since`` (LA id: moment; the incremental sweep): in those LAs, only escalations that fell due
    after that moment (the sweep that ended then climbed the others).

    One statement for all rules, levels and LAs: the next rung's owner and due time (computed
    here per LA on the working-day calendar) come in as a table. The new owners are told.
    Notify-only rules never climb; the top rung does not climb further. Returns the escalations
    climbed, in id order.
    """
    ladder = []
    for la in local_authorities:
        for name, rule in RULES.items():
            if rule.notify_only:
                continue
            for level in range(1, rule.top_level):
                rung = rule.rung(level + 1)
                to_assigned = rung.owner == Owner.ASSIGNED_OFFICER
                ladder.append(
                    {
                        "rule": name,
                        "level": level,
                        "la_id": la.pk,
                        "owner_role": "" if to_assigned else str(rung.owner),
                        "to_assigned": to_assigned,
                        "due_at": rung.due(as_of, la).isoformat() if rung.due else None,
                        "since": since[la.pk].isoformat() if since and la.pk in since else None,
                    }
                )
    if not ladder:
        return []
    only = "AND x.episode_id = ANY(%(episode_ids)s)" if episode_ids is not None else ""
    if limit is not None:
        # The batch is of escalations that can climb (a rung above theirs, in an LA swept): one at
        # its top rung would fill a batch that climbs nothing and end the sweep's climbing early.
        only += """ AND x.id IN (
            SELECT y.id FROM workflows_escalation y
            WHERE y.resolved_at IS NULL AND y.acknowledged_at IS NULL AND y.due_at <= %(as_of)s AND y.id > %(after)s
              AND y.due_at > %(since_min)s
              AND EXISTS (SELECT 1 FROM ladder k
                          WHERE k.rule = y.rule AND k.level = y.level AND k.la_id = y.local_authority_id
                            AND (k.since IS NULL OR y.due_at > k.since))
            ORDER BY y.id LIMIT %(limit)s)"""
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH ladder AS (
                SELECT * FROM jsonb_to_recordset(%(ladder)s::jsonb) AS l(
                    rule text, level int, la_id bigint, owner_role text, to_assigned boolean, due_at timestamptz,
                    since timestamptz)
            ), climbed AS (
                UPDATE workflows_escalation x
                SET level = x.level + 1,
                    owner_role = CASE WHEN NOT l.to_assigned THEN l.owner_role
                                      WHEN e.assigned_officer_id IS NULL THEN %(team_role)s ELSE '' END,
                    owner_user_id = CASE WHEN l.to_assigned THEN e.assigned_officer_id END,
                    due_at = l.due_at
                FROM ladder l, workflows_episode e
                WHERE l.rule = x.rule AND l.level = x.level AND l.la_id = x.local_authority_id
                  AND e.id = x.episode_id
                  AND x.resolved_at IS NULL AND x.acknowledged_at IS NULL
                  AND x.due_at IS NOT NULL AND x.due_at <= %(as_of)s
                  AND (l.since IS NULL OR x.due_at > l.since)
                  {only}
                RETURNING x.id, x.level
            )
            INSERT INTO workflows_escalationevent (escalation_id, kind, level, actor_name, note, at)
            SELECT id, 'climbed', level, %(actor)s, 'Not acknowledged in time: now level ' || level, %(as_of)s
            FROM climbed
            RETURNING escalation_id
            """,  # noqa: S608 - the only interpolation is a fixed fragment chosen above
            {
                "ladder": json.dumps(ladder),
                "team_role": TEAM_QUEUE_ROLE.value,
                "as_of": as_of,
                "actor": SYSTEM.display_name,
                "episode_ids": list(episode_ids or []),
                "after": after,
                "limit": limit,
                # The earliest moment any LA swept follows from: lets the batch read the due index.
                "since_min": min(since.values()) if since and len(since) == len(local_authorities) else _EPOCH,
            },
        )
        climbed = escalations_with_episode(row[0] for row in cursor.fetchall())

        def new_owners(escalation: EscalationTold) -> tuple[Recipient, ...]:
            rung = RULES[escalation.rule].rung(escalation.level)
            return (rung.owner, *rung.also_tell)

        escalations_tell(climbed, new_owners, as_of, "climbed")
    return climbed


# --- Escalations follow their case to a new holder ----------------------------------------------

# (rule, level) pairs whose owner is "the assigned officer": these follow the case when it moves.
OFFICER_OWNED_RUNGS = [
    {"rule": name, "level": level}
    for name, rule in RULES.items()
    for level, rung in enumerate(rule.rungs, start=1)
    if rung.owner == Owner.ASSIGNED_OFFICER
]


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
    escalation_events_write(
        [(e.pk, e.level, notes.get(e.episode_id, "")) for e in followed], "reassigned", as_of, actor
    )
    escalations_tell(followed, lambda _: (Owner.ASSIGNED_OFFICER,), as_of, f"reassigned:{as_of.isoformat()}")
    return [e.pk for e in followed]


def escalation_events_write(rows: list[tuple[int, int, str]], kind: str, as_of: datetime, actor: Any = SYSTEM) -> None:
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
