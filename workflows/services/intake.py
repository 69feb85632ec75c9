"""Opening a case and the risk check that runs straight after intake (and after a reopen)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import transaction

from ehe_register.models import Child, School
from workflows.actors import SYSTEM
from workflows.models import Episode
from workflows.services.escalations import escalation_raise
from workflows.services.transitions import episode_transition
from workflows.states import Source
from workflows.sweeps import episode_rules_evaluate


def episode_open(
    *,
    child: Child,
    source: Source,
    received_on: date,
    as_of: datetime,
    opened_by_school: School | None = None,
    concern_at_intake: bool = False,
    special_school_placed_by_la: bool = False,
    attendance_order_in_force: bool = False,
    reason_code: str = "",
    source_detail: str = "",
) -> Episode:
    """Open a new episode for ``child`` and run the risk check, in one transaction.

    The database refuses a second open episode for the same child; callers that may race (two
    schools notifying the same child) take the intake lock first (``workflows.services.submission``).
    """
    with transaction.atomic():
        episode = Episode.objects.create(
            local_authority_id=child.local_authority_id,
            child=child,
            source=source,
            source_detail=source_detail,
            opened_by_school=opened_by_school,
            received_on=received_on,
            opened_at=as_of,
            concern_at_intake=concern_at_intake,
            special_school_placed_by_la=special_school_placed_by_la,
            attendance_order_in_force=attendance_order_in_force,
            reason_code=reason_code,
        )
        return episode_risk_check(episode_id=episode.pk, as_of=as_of)


def episode_risk_check(*, episode_id: int, as_of: datetime, actor: Any = SYSTEM) -> Episode:
    """Send a notified episode to the front door, the consent decision or address verification,
    and raise the escalations its facts call for, with their messages, in the same transaction.

    The safeguarding escalations are raised here, as events of the intake; the rest
    (``consent_required``, ``sen_notify``, and any clock already run out for a late notification)
    by the rules, evaluated for the case at the end."""
    with transaction.atomic():
        episode = Episode.objects.select_related("child", "local_authority").get(pk=episode_id)
        reasons = episode.safeguarding_triggers()
        episode = episode_transition(
            episode_id=episode_id,
            transition="risk_check",
            actor=SYSTEM,
            expected_version=None,
            as_of=as_of,
            payload={"safeguarding_triggers": reasons},
        )
        if "concern_ticked" in reasons:
            escalation_raise(episode=episode, rule_name="concern_ticked", as_of=as_of)
        if "social_care_known" in reasons or "previous_episode_closed_with_concerns" in reasons:
            escalation_raise(episode=episode, rule_name="social_care_known", as_of=as_of)
        episode_rules_evaluate(episode_id=episode_id, as_of=as_of)
        return Episode.objects.select_related("child", "local_authority").get(pk=episode_id)
