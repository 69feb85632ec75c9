"""Reads that know who is asking: children and off-roll notifications as one user may see them
(episodes: ``workflows.selectors.episodes_for``, built on the same rules).

Views must get children, episodes and notifications from these selectors, never from
``Child.objects``, ``Episode.objects`` or ``OffRollNotification.objects``: the scoping by LA and role
(DESIGN section 2) lives here and nowhere else, so a view cannot forget it.

- LA staff (the roles in ``ehe_register.roles.LA_ROLES``) see their own LA's rows. A notification
  belongs to the LA the child lives in (``residence_la``), not to the notifying school's LA.
- School users see only what their own schools sent: the notifications from their schools, and the
  children and episodes those notifications are about, whichever LA the child lives in.
- Everyone else (an administrator without an LA, an inactive or anonymous user) sees nothing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from ehe_register.models import Child, OffRollNotification
from ehe_register.roles import LA_ROLES, Role


def _active(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def staff_la_id(user: Any) -> int | None:
    """The LA whose rows ``user`` sees as LA staff, or None when they are not LA staff."""
    if not _active(user) or not user.local_authority_id:
        return None
    return user.local_authority_id if user.roles & LA_ROLES else None


def is_school_user(user: Any) -> bool:
    return _active(user) and Role.SCHOOL_USER in user.roles


def notifications_from_schools_of(user: Any) -> QuerySet[OffRollNotification]:
    return OffRollNotification.objects.filter(school__in=user.schools.values("pk"))


def children_for(user: Any) -> QuerySet[Child]:
    la_id = staff_la_id(user)
    if la_id is not None:
        return Child.objects.filter(local_authority_id=la_id)
    if is_school_user(user):
        # A subquery rather than a join: a child notified twice must appear once.
        return Child.objects.filter(pk__in=notifications_from_schools_of(user).values("child_id"))
    return Child.objects.none()


def notifications_for(user: Any) -> QuerySet[OffRollNotification]:
    la_id = staff_la_id(user)
    if la_id is not None:
        notifications = OffRollNotification.objects.filter(residence_la_id=la_id)
    elif is_school_user(user):
        notifications = notifications_from_schools_of(user)
    else:
        return OffRollNotification.objects.none()
    return notifications.select_related("school")


def child_for(user: Any, pk: int | str) -> Child:
    """One child the user may see; another LA's or another school's child is a 404, not a 403,
    so that the answer does not reveal that the row exists."""
    return get_object_or_404(children_for(user), pk=pk)
