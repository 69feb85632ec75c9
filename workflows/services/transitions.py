"""The one way to change an episode's state.

``episode_transition`` locks the row, refuses a stale version (naming who changed the case and
when), checks the transition's sources, conditions and permission from the machine itself, runs
it, and writes the TransitionLog row, all in one database transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from ehe_register.models import User
from workflows.actors import SYSTEM, actor_name, is_system
from workflows.clocks import episodes_next_action_due_refresh
from workflows.models import Episode, TransitionLog


class TransitionRefused(Exception):
    """The transition is not possible from this state, or its conditions are not met."""


@dataclass
class StaleVersion(Exception):
    """Someone else changed the case after the user loaded it."""

    changed_by: str
    changed_at: datetime | None

    def __str__(self) -> str:
        when = timezone.localtime(self.changed_at).strftime("%H:%M") if self.changed_at else "an earlier time"
        return f"This case was changed by {self.changed_by} at {when}. Reload to see the change."


def transition_names() -> list[str]:
    return sorted({t.name for t in Episode._meta.get_field("state").get_all_transitions(Episode)})  # type: ignore[attr-defined]


def episode_lock(episode_id: int, expected_version: int | None) -> Episode:
    """Lock the episode row for this transaction; refuse it if someone changed it since the user
    loaded it (``expected_version``; None for automatic work)."""
    # Only the episode row is locked; the user who last changed it is read after the lock, since a
    # joined row would be the one seen before waiting for the lock (PostgreSQL re-reads only the locked row).
    episode = (
        Episode.objects.select_for_update(of=("self",)).select_related("local_authority", "child").get(pk=episode_id)
    )
    if expected_version is not None and episode.version != expected_version:
        changer = User.objects.filter(pk=episode.last_changed_by_id).first() if episode.last_changed_by_id else None
        changed_by = changer.display_name if changer else SYSTEM.display_name
        raise StaleVersion(changed_by=changed_by, changed_at=episode.last_changed_at)
    return episode


def episode_touch(episode: Episode, actor: Any, as_of: datetime) -> None:
    """Record a user's change to a case that is not a transition (so others' stale forms are refused)."""
    Episode.objects.filter(pk=episode.pk).update(
        version=episode.version + 1,
        last_changed_by=None if is_system(actor) else actor,
        last_changed_at=as_of,
    )
    episode.version += 1


def episode_transition(
    *,
    episode_id: int,
    transition: str,
    actor: Any,
    expected_version: int | None,
    reason: str = "",
    as_of: datetime | None = None,
    payload: dict[str, Any] | None = None,
    **arguments: Any,
) -> Episode:
    """Run one named transition as ``actor``. User actions pass the version they saw.

    Every transition starts or ends a clock, so the case's ``next_action_due`` is recomputed
    (``workflows.clocks``) once its TransitionLog row is written.

    Raises StaleVersion, TransitionRefused or PermissionDenied; on any error nothing is written.
    """
    if transition not in transition_names():
        raise TransitionRefused(f"{transition} is not a transition of a case")
    as_of = as_of or timezone.now()
    with transaction.atomic():
        episode = episode_lock(episode_id, expected_version)
        method = getattr(episode, transition)
        if not can_proceed(method, check_conditions=False):
            raise TransitionRefused(_refusal(episode, transition))
        if not method._django_fsm.has_transition_perm(episode, episode.state, actor):
            raise PermissionDenied(f"You cannot {transition.replace('_', ' ')} on this case")
        if not can_proceed(method):
            raise TransitionRefused(_refusal(episode, transition))
        from_state = episode.state
        episode.last_changed_at = as_of
        method(**arguments)
        episode.version += 1
        episode.last_changed_by = None if is_system(actor) else actor
        episode.save()
        TransitionLog.objects.create(
            episode=episode,
            from_state=from_state,
            to_state=episode.state,
            transition=transition,
            actor=None if is_system(actor) else actor,
            actor_name=actor_name(actor),
            reason=reason,
            payload=_jsonable({**arguments, **(payload or {})}),
            at=as_of,
        )
        episode.next_action_due = episodes_next_action_due_refresh(episode_ids=[episode.pk], as_of=as_of)[episode.pk]
    return episode


def _refusal(episode: Episode, transition: str) -> str:
    if not can_proceed(getattr(episode, transition), check_conditions=False):
        return f"A case that is {episode.get_state_display().lower()} cannot {transition.replace('_', ' ')}"
    return f"The case is not ready to {transition.replace('_', ' ')}"


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if hasattr(value, "isoformat"):
            out[key] = value.isoformat()
        elif hasattr(value, "pk"):
            out[key] = value.pk
        else:
            out[key] = value
    return out
