"""An officer's changes to how the LA handles a child's contact: the confidential-address flag,
interpreter and language, and contact preferences (DESIGN section 3, Child flags).

The change is made from a case page, so it is checked against the version of the case the officer
saw (a stale form is refused naming who changed the case and when) and counts as a change to the
case. django-pghistory keeps each field's before and after with the acting user, which is what the
case page's timeline and field history show: who turned the confidential flag on or off, and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pghistory
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from ehe_register.models import Child, User
from ehe_register.roles import Role
from workflows.models import Episode
from workflows.services.transitions import episode_lock, episode_touch

#: The Child fields this service changes, in the order the page asks them.
CONTACT_FIELDS = ("confidential_address", "interpreter_needed", "language", "contact_preferences")


@dataclass(frozen=True)
class ChildContactDetails:
    confidential_address: bool
    interpreter_needed: bool
    language: str
    contact_preferences: str


def child_contact_details_update(
    *,
    episode_id: int,
    details: ChildContactDetails,
    actor: User,
    expected_version: int,
    as_of: datetime | None = None,
) -> list[str]:
    """Change the child's contact flags from the case ``episode_id``, in one transaction.

    Only EHE officers and managers of the case's LA may; raises ``StaleVersion`` when the case
    changed since the officer loaded it. Returns the names of the fields that changed (none: no
    write, no new version).
    """
    as_of = as_of or timezone.now()
    with transaction.atomic():
        episode: Episode = episode_lock(episode_id, expected_version)
        if actor.local_authority_id != episode.local_authority_id or not (
            actor.roles & {Role.EHE_OFFICER, Role.EHE_MANAGER}
        ):
            raise PermissionDenied("Only EHE officers and managers of the child's local authority can change this")
        child = Child.objects.select_for_update().get(pk=episode.child_id)
        changed = [name for name in CONTACT_FIELDS if getattr(child, name) != getattr(details, name)]
        if not changed:
            return []
        for name in changed:
            setattr(child, name, getattr(details, name))
        with pghistory.context(user=actor.pk, change="child_contact_details", episode=episode.pk):
            child.save(update_fields=[*changed, "updated_at"])
        episode_touch(episode, actor, as_of)
        return changed
