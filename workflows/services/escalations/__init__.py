"""Escalations, split by job: ``raising`` (raise, climb, acknowledge, resolve, and the set-based
writes the sweeps use), ``deciding`` (who may decide and what a decision does to the case) and
``digest`` (the managers' morning email). Callers import from here."""

from workflows.services.escalations.deciding import (
    CONSENT_DECISIONS,
    FRONT_DOOR_DECISIONS,
    NEEDS_REFERENCE,
    EscalationChanged,
    EscalationClosed,
    decisions_for,
    escalation_acknowledge_as,
    escalation_decide,
    escalation_may_act,
    escalation_may_decide,
    front_door_decide,
)
from workflows.services.escalations.digest import managers_digest_send
from workflows.services.escalations.raising import (
    TEAM_QUEUE_ROLE,
    escalation_acknowledge,
    escalation_climb,
    escalation_events_write,
    escalation_raise,
    escalation_resolve,
    escalations_climb_batch,
    escalations_climb_due,
    escalations_follow_assignment,
    escalations_raise_many,
    escalations_resolve_many,
    escalations_tell,
    escalations_with_episode,
    tells_front_door,
)

__all__ = [
    "CONSENT_DECISIONS",
    "FRONT_DOOR_DECISIONS",
    "NEEDS_REFERENCE",
    "TEAM_QUEUE_ROLE",
    "EscalationChanged",
    "EscalationClosed",
    "decisions_for",
    "escalation_acknowledge",
    "escalation_acknowledge_as",
    "escalation_climb",
    "escalation_decide",
    "escalation_events_write",
    "escalation_may_act",
    "escalation_may_decide",
    "escalation_raise",
    "escalation_resolve",
    "escalations_climb_batch",
    "escalations_climb_due",
    "escalations_follow_assignment",
    "escalations_raise_many",
    "escalations_resolve_many",
    "escalations_tell",
    "escalations_with_episode",
    "front_door_decide",
    "managers_digest_send",
    "tells_front_door",
]
