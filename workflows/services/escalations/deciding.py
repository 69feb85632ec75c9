"""Deciding an escalation: who may, and what a decision does to the case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from ehe_register.roles import Role
from workflows.actors import is_system
from workflows.escalation_rules import RULES, Owner, Rule
from workflows.models import Escalation
from workflows.services.escalations.raising import TEAM_QUEUE_ROLE, _event, escalation_acknowledge, escalation_resolve
from workflows.states import State


class EscalationClosed(Exception):
    """The escalation was resolved already: there is nothing left to decide."""


def _ladder_roles(rule: Rule) -> set[Role]:
    roles = {rung.owner for rung in rule.rungs if isinstance(rung.owner, Role)}
    if any(rung.owner == Owner.ASSIGNED_OFFICER for rung in rule.rungs):
        roles.add(TEAM_QUEUE_ROLE)
    return roles


def escalation_may_decide(escalation: Escalation, actor: Any) -> bool:
    """Staff of the escalation's LA holding a role on its ladder (any rung) may decide it."""
    if is_system(actor) or actor.local_authority_id != escalation.local_authority_id:
        return False
    return bool(actor.roles & _ladder_roles(RULES[escalation.rule]))


def escalation_decide(
    *, escalation_id: int, actor: Any, decision: str, as_of: datetime, reference: str = "", note: str = ""
) -> Escalation:
    """Record what was decided and resolve the escalation (acknowledging it first if no one had).

    A decision on a safeguarding escalation is the front door's: once no safeguarding escalation
    is left open on a case in safeguarding review, the case moves on (``cspa_decision``) in the
    same transaction. Raises PermissionDenied, EscalationClosed, or the transition's refusal.
    """
    from workflows.services.transitions import episode_transition  # transitions never import this module

    if not decision:
        raise ValueError("Say what was decided")
    with transaction.atomic():
        escalation = Escalation.objects.select_for_update(of=("self",)).select_related("episode").get(pk=escalation_id)
        if not escalation_may_decide(escalation, actor):
            raise PermissionDenied("You cannot decide this escalation")
        if escalation.resolved_at is not None:
            raise EscalationClosed(f"This escalation was resolved by {escalation.resolved_by_name}")
        escalation_acknowledge(escalation=escalation, actor=actor, as_of=as_of)
        _event(escalation, "decided", actor, as_of, f"{decision}: {note}" if note else decision)
        episode = escalation.episode
        resolved = escalation_resolve(
            episode=episode,
            rule_name=escalation.rule,
            as_of=as_of,
            actor=actor,
            decision=decision,
            reference=reference,
            note=note,
        )
        still_open = Escalation.objects.filter(
            episode=episode, rule__in=[n for n, r in RULES.items() if r.safeguarding], resolved_at__isnull=True
        ).exists()
        if RULES[escalation.rule].safeguarding and episode.state == State.SAFEGUARDING_REVIEW and not still_open:
            episode_transition(
                episode_id=episode.pk,
                transition="cspa_decision",
                actor=actor,
                expected_version=None,
                as_of=as_of,
                reason=f"Front door decision: {decision}",
                payload={"decision": decision, "reference": reference},
            )
        assert resolved is not None
        return resolved
