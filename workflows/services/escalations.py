"""Raise, climb, acknowledge and resolve escalations: one idempotent service for every rule.

At most one escalation is open per (episode, rule) (a partial unique index); raising again returns
the open one. Climbing raises the level of that same row. Each change writes an EscalationEvent
and the messages to the people concerned, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from ehe_register.models import User
from ehe_register.roles import Role
from notifications.models import Channel
from notifications.services import message_enqueue
from workflows.actors import SYSTEM, actor_name
from workflows.escalation_rules import RULES, External, Owner, Recipient, Rule
from workflows.models import Episode, Escalation, EscalationEvent


def _owner_for(recipient: Recipient, episode: Episode) -> tuple[str, User | None]:
    """(owner role, owner user) for a rung's owner. An unassigned case goes to the team queue."""
    if recipient == Owner.ASSIGNED_OFFICER:
        if episode.assigned_officer_id:
            return "", episode.assigned_officer
        return Role.EHE_OFFICER.value, None
    return str(recipient), None


def _users_with_role(role: str, episode: Episode) -> Iterable[User]:
    return User.objects.filter(local_authority_id=episode.local_authority_id, groups__name=role, is_active=True)


def _tell(escalation: Escalation, recipients: Iterable[Recipient], as_of: datetime, occasion: str) -> None:
    """Write a message for each person (in the service and by email) or external inbox concerned."""
    episode = escalation.episode
    la = episode.local_authority
    payload = {
        "rule": escalation.rule,
        "summary": RULES[escalation.rule].summary,
        "level": escalation.level,
        "episode_id": episode.pk,
        "case_reference": episode.reference,
        "due_at": escalation.due_at.isoformat() if escalation.due_at else None,
    }
    for recipient in recipients:
        key = f"escalation:{escalation.pk}:{occasion}:{escalation.level}:{recipient}"
        if isinstance(recipient, External):
            email = la.sen_team_email if recipient == External.SEN_TEAM else episode.child.social_worker_email
            if email:
                message_enqueue(
                    template="emails/escalation_external",
                    idempotency_key=key,
                    recipient_email=email,
                    local_authority=la,
                    payload={"case_reference": episode.reference, "summary": payload["summary"]},
                    as_of=as_of,
                )
            continue
        owner_role, owner_user = _owner_for(recipient, episode)
        people = [owner_user] if owner_user else list(_users_with_role(owner_role, episode))
        for person in people:
            for channel in (Channel.IN_APP, Channel.EMAIL):
                message_enqueue(
                    template="emails/escalation",
                    idempotency_key=f"{key}:{person.pk}:{channel}",
                    channel=channel,
                    recipient_user=person,
                    local_authority=la,
                    payload=payload,
                    as_of=as_of,
                )


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


def escalation_acknowledge(*, escalation: Escalation, actor: Any, as_of: datetime) -> Escalation:
    if escalation.acknowledged_at is None:
        escalation.acknowledged_by = actor
        escalation.acknowledged_at = as_of
        escalation.save(update_fields=["acknowledged_by", "acknowledged_at"])
        _event(escalation, "acknowledged", actor, as_of)
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
