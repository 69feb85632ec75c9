"""Working an escalation: who may act on it, acknowledging it, and deciding it.

There is one implementation of the front door's decision, :func:`front_door_decide`. It is valid
from any state of the case: it resolves every open safeguarding escalation of the case
(``concern_ticked`` and ``social_care_known``) and moves the case on (``cspa_decision``) only when
the case is in safeguarding review. The case page's decision (``casework.cspa_decide``) and the
decision recorded from an escalation (:func:`escalation_decide`) both call it, so a
``social_care_known`` escalation raised on a case in monitoring can be decided, and the case closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ehe_register.roles import Role
from ehe_register.working_days import LONDON
from workflows.actors import is_system
from workflows.escalation_rules import RULES, SAFEGUARDING_RULE_NAMES, Owner, Rule
from workflows.models import Episode, Escalation, by_front_door
from workflows.services.escalations.raising import (
    TEAM_QUEUE_ROLE,
    _event,
    escalation_acknowledge,
    escalation_resolve,
)
from workflows.services.transitions import episode_lock, episode_touch, episode_transition
from workflows.states import State

# The front door's decisions (codes are stored; labels are shown and logged).
FRONT_DOOR_DECISIONS: dict[str, str] = {
    "no_further_action": "No further action",
    "passed_to_social_care": "Referred to children's social care",
    "strategy_discussion": "Strategy discussion",
    "already_open": "Already open to children's social care",
}
NEEDS_REFERENCE = frozenset({"passed_to_social_care", "strategy_discussion", "already_open"})
CONSENT_DECISIONS: dict[str, str] = {"granted": "Consent granted", "refused": "Consent refused"}


def decisions_for(rule_name: str) -> dict[str, str]:
    """The decisions a rule asks for ({} when acknowledging is all there is to do: those rules
    resolve by themselves when their condition clears)."""
    if RULES[rule_name].safeguarding:
        return FRONT_DOOR_DECISIONS
    if rule_name == "consent_required":
        return CONSENT_DECISIONS
    return {}


class EscalationChanged(Exception):
    """Someone else acted on the escalation after the user loaded the page."""

    def __init__(self, what: str, by: str, at: datetime | None) -> None:
        super().__init__(what, by, at)
        self.what, self.by, self.at = what, by, at

    def __str__(self) -> str:
        if self.at is None:
            return f"This escalation was {self.what} by {self.by}. Reload the page to see it."
        local = timezone.localtime(self.at, LONDON)
        return (
            f"This escalation was {self.what} by {self.by} at {local:%H:%M} on {local.day} {local:%B %Y}. "
            "Reload the page to see it."
        )


class EscalationClosed(EscalationChanged):
    """The escalation was resolved already: there is nothing left to acknowledge or decide."""

    def __init__(self, escalation: Escalation) -> None:
        super().__init__("resolved", escalation.resolved_by_name or "someone else", escalation.resolved_at)


def _role_owners(rule: Rule) -> set[Role]:
    return {rung.owner for rung in rule.rungs if isinstance(rung.owner, Role)}


def escalation_may_act(escalation: Escalation, actor: Any) -> bool:
    """Who may acknowledge or decide an escalation: staff of its LA who are its named owner, who
    hold a role that owns a rung of its ladder (the duty worker may still act once it has climbed
    to the C-SPA manager), or, while it sits in the team queue, any EHE officer. An officer may not
    act on a colleague's own escalation; their manager (the next rung) may."""
    if is_system(actor) or not getattr(actor, "is_active", False):
        return False
    if actor.local_authority_id != escalation.local_authority_id:
        return False
    if escalation.owner_user_id is not None and escalation.owner_user_id == actor.pk:
        return True
    rule = RULES[escalation.rule]
    if rule.notify_only:
        return False
    if actor.roles & _role_owners(rule):
        return True
    in_team_queue = escalation.owner_role == TEAM_QUEUE_ROLE.value and any(
        rung.owner == Owner.ASSIGNED_OFFICER for rung in rule.rungs
    )
    return in_team_queue and actor.has_role(TEAM_QUEUE_ROLE)


# The older name: deciding and acknowledging are allowed to the same people.
escalation_may_decide = escalation_may_act


def _refuse_if_stale(escalation: Escalation, actor: Any, seen_acknowledged: bool | None) -> None:
    if escalation.resolved_at is not None:
        raise EscalationClosed(escalation)
    if (
        seen_acknowledged is False
        and escalation.acknowledged_at is not None
        and escalation.acknowledged_by_id != getattr(actor, "pk", None)
    ):
        by = escalation.acknowledged_by.display_name if escalation.acknowledged_by else "someone else"
        raise EscalationChanged("acknowledged", by, escalation.acknowledged_at)


def _lock(escalation_id: int) -> Escalation:
    return (
        Escalation.objects.select_for_update(of=("self",))
        .select_related("episode__local_authority", "episode__child", "acknowledged_by")
        .get(pk=escalation_id)
    )


def escalation_acknowledge_as(
    *, escalation_id: int, actor: Any, note: str, as_of: datetime | None = None
) -> Escalation:
    """A user acknowledges an escalation, with a note: it stops climbing and stays at its level
    until it is resolved. Refused (naming who and when) if it was acknowledged or resolved by
    anyone meanwhile; PermissionDenied for someone who may not act on it."""
    as_of = as_of or timezone.now()
    if not note.strip():
        raise ValidationError("Say what you are doing about it")
    with transaction.atomic():
        escalation = _lock(escalation_id)
        if not escalation_may_act(escalation, actor):
            raise PermissionDenied("You cannot act on this escalation")
        if escalation.resolved_at is not None:
            raise EscalationClosed(escalation)
        if escalation.acknowledged_at is not None:
            by = escalation.acknowledged_by.display_name if escalation.acknowledged_by else "someone else"
            raise EscalationChanged("acknowledged already", by, escalation.acknowledged_at)
        return escalation_acknowledge(escalation=escalation, actor=actor, as_of=as_of, note=note.strip())


def front_door_decide(
    *,
    episode_id: int,
    actor: Any,
    decision: str,
    as_of: datetime | None = None,
    reference: str = "",
    note: str = "",
    expected_version: int | None = None,
) -> Episode:
    """The front door's decision on a case, from any state, in one transaction.

    Every open safeguarding escalation of the case is acknowledged (if nobody had), decided and
    resolved, each with its log entries. A case in safeguarding review then moves to the state it
    is to resume (``cspa_decision``; a new case needing consent raises ``consent_required``); a
    case in any other state stays where it is and can close once nothing safeguarding is open.
    Raises ValidationError, PermissionDenied or StaleVersion; on any error nothing is written.
    """
    as_of = as_of or timezone.now()
    reference, note = reference.strip(), note.strip()
    if decision not in FRONT_DOOR_DECISIONS:
        raise ValidationError("Select the decision")
    if decision in NEEDS_REFERENCE and not reference:
        raise ValidationError("Enter the social care reference")
    label = FRONT_DOOR_DECISIONS[decision]
    with transaction.atomic():
        episode = episode_lock(episode_id, expected_version)
        if not by_front_door(episode, actor):
            raise PermissionDenied("Only the front door can record this decision")
        open_ones = list(
            Escalation.objects.select_for_update(of=("self",))
            .filter(episode=episode, rule__in=SAFEGUARDING_RULE_NAMES, resolved_at__isnull=True)
            .order_by("pk")
        )
        if not open_ones and episode.state != State.SAFEGUARDING_REVIEW:
            raise ValidationError("There is no safeguarding escalation open on this case to decide")
        logged = label + (f" (reference {reference})" if reference else "") + (f": {note}" if note else "")
        for escalation in open_ones:
            escalation_acknowledge(escalation=escalation, actor=actor, as_of=as_of)
            _event(escalation, "decided", actor, as_of, logged)
            escalation_resolve(
                episode=episode,
                rule_name=escalation.rule,
                as_of=as_of,
                actor=actor,
                decision=decision,
                reference=reference,
                note=note,
            )
        if episode.state == State.SAFEGUARDING_REVIEW:
            episode = episode_transition(
                episode_id=episode.pk,
                transition="cspa_decision",
                actor=actor,
                expected_version=None,
                reason=note or f"Front door decision: {label}",
                as_of=as_of,
                payload={"decision": decision, "reference": reference},
            )
        else:
            episode_touch(episode, actor, as_of)
        # The rules at the event, by the sweep's own code: consent_required when the case now waits
        # for consent, and the case's new clock. (The sweep imports these services: imported here.)
        from workflows.sweeps import episode_rules_evaluate

        episode_rules_evaluate(episode_id=episode.pk, as_of=as_of)
        return episode


def escalation_decide(
    *,
    escalation_id: int,
    actor: Any,
    decision: str,
    as_of: datetime | None = None,
    reference: str = "",
    note: str = "",
    expected_version: int | None = None,
    seen_acknowledged: bool | None = None,
) -> Escalation:
    """Record the decision an escalation asks for and resolve it.

    A safeguarding escalation is the front door's decision (:func:`front_door_decide`: every
    safeguarding escalation of the case is resolved with it); ``consent_required`` is the consent
    decision (``casework.consent_decide``). Other rules have no decision: acknowledge them.
    ``seen_acknowledged`` is what the user's page showed: a decision made on a page loaded before
    someone else acknowledged the escalation is refused, naming who and when.
    """
    from workflows.services.casework import consent_decide  # casework imports this package

    as_of = as_of or timezone.now()
    if not decision:
        raise ValidationError("Select the decision")
    with transaction.atomic():
        episode_id = Escalation.objects.values_list("episode_id", flat=True).get(pk=escalation_id)
        episode_lock(episode_id, expected_version)  # the case first, as every service locks it
        escalation = _lock(escalation_id)
        if not escalation_may_act(escalation, actor):
            raise PermissionDenied("You cannot decide this escalation")
        _refuse_if_stale(escalation, actor, seen_acknowledged)
        choices = decisions_for(escalation.rule)
        if not choices:
            raise ValidationError("This escalation has no decision to record. Acknowledge it instead")
        if decision not in choices:
            raise ValidationError("Select the decision")
        if RULES[escalation.rule].safeguarding:
            front_door_decide(
                episode_id=episode_id,
                actor=actor,
                decision=decision,
                as_of=as_of,
                reference=reference,
                note=note,
            )
        else:
            if not note.strip():
                raise ValidationError("Give the reasons for the decision")
            escalation_acknowledge(escalation=escalation, actor=actor, as_of=as_of)
            _event(escalation, "decided", actor, as_of, f"{choices[decision]}: {note.strip()}")
            consent_decide(
                episode_id=episode_id,
                actor=actor,
                expected_version=None,
                granted=decision == "granted",
                reasons=note.strip(),
                as_of=as_of,
            )
        return Escalation.objects.get(pk=escalation_id)
