"""A case opened by an officer: from a parent's own notice, another agency, or the officer's own
knowledge (DESIGN section 6, "New case").

The same matching and risk check as a school's notification, in one transaction and under the
same advisory lock as school intake (same LA and date of birth), so that an officer and a school
telling us about the same new child at the same moment give one child and one open case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ehe_register.models import User
from ehe_register.roles import Role
from workflows.actors import actor_name
from workflows.models import ConcernSource, Episode, Escalation, EscalationEvent
from workflows.services.casework import concern_kept_at_intake, episode_assign
from workflows.services.intake import IntakeRecord, intake_child, intake_episode_open, possible_matches_store
from workflows.states import ACTIVE_STATES, Source

OFFICER_SOURCES = (Source.PARENT, Source.OTHER_AGENCY, Source.OFFICER)


class ChildHasOpenCase(Exception):
    """The child matched a known child who already has an open case: work on that case instead."""

    def __init__(self, episode: Episode) -> None:
        self.episode = episode
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"This child already has an open case, {self.episode.reference}. Record what you know on that case"


@dataclass(frozen=True)
class NewCaseResult:
    episode: Episode
    child_created: bool
    likely_matches: int


def case_open(*, data: IntakeRecord, actor: User, as_of: datetime | None = None) -> NewCaseResult:
    """Find or create the child, open the case and run the risk check, in one transaction.

    A certain match reuses the known child (and is refused with :class:`ChildHasOpenCase` when
    that child already has an open case); likely matches are stored as ``PossibleMatch`` rows for
    an officer to resolve, never merged. A concern sends the case to safeguarding review with
    ``concern_ticked`` raised; what the officer wrote about it goes on the escalation's log.
    """
    as_of = as_of or timezone.now()
    la_id = actor.local_authority_id
    if la_id is None or not (actor.roles & {Role.EHE_OFFICER, Role.EHE_MANAGER}):
        raise PermissionDenied("Only EHE officers and managers can open a case")
    if data.local_authority_id != la_id or data.child is None:
        raise PermissionDenied("An officer opens a case for a child of their own local authority")
    if data.source not in OFFICER_SOURCES:
        raise ValidationError("Say where the information came from")
    if data.concern is not None and not data.concern.nature.strip():
        raise ValidationError("Describe the safeguarding concern")
    with transaction.atomic():
        found = intake_child(data, as_of=as_of)
        if not found.created:
            open_case = Episode.objects.filter(child=found.child, state__in=ACTIVE_STATES).first()
            if open_case is not None:
                raise ChildHasOpenCase(open_case)
        possible_matches_store(found, as_of=as_of)
        episode = intake_episode_open(data, found.child, as_of=as_of)
        if data.concern is not None:
            escalation = Escalation.objects.get(episode=episode, rule="concern_ticked", resolved_at__isnull=True)
            EscalationEvent.objects.create(
                escalation=escalation,
                kind="noted",
                level=escalation.level,
                actor_name=actor_name(actor),
                note=data.concern.nature.strip(),
                at=as_of,
            )
            concern_kept_at_intake(
                episode=episode, text=data.concern.nature, source=ConcernSource.NEW_CASE, as_of=as_of, author=actor
            )
        if data.assign_to_me and actor.has_role(Role.EHE_OFFICER):
            episode = episode_assign(
                episode_id=episode.pk, officer=actor, actor=actor, expected_version=None, as_of=as_of
            )
        return NewCaseResult(
            episode=Episode.objects.get(pk=episode.pk),
            child_created=found.created,
            likely_matches=len(found.likely),
        )
