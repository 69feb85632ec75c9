"""Casework services that combine a transition with the escalations it implies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from workflows.actors import SYSTEM
from workflows.models import Episode
from workflows.services.escalations import escalation_raise
from workflows.services.transitions import episode_transition
from workflows.states import State


def episode_concern_raised(
    *, episode_id: int, as_of: datetime, actor: Any = SYSTEM, expected_version: int | None = None, note: str = ""
) -> Episode:
    """A safeguarding concern on an open case: to the front door at once.

    The episode moves to safeguarding review (remembering where it was) unless it is already
    there, and ``concern_ticked`` is raised (or stays open) with its messages, in one transaction.
    """
    with transaction.atomic():
        episode = Episode.objects.select_for_update(of=("self",)).get(pk=episode_id)
        if episode.state not in (State.SAFEGUARDING_REVIEW, State.NOTIFIED, State.CLOSED):
            episode = episode_transition(
                episode_id=episode_id,
                transition="concern_raised",
                actor=actor,
                expected_version=expected_version,
                reason=note,
                as_of=as_of,
            )
        escalation_raise(episode=episode, rule_name="concern_ticked", as_of=as_of, actor=actor, note=note)
        return episode
