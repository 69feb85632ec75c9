"""The access log: every view or export of a child's record, by whom and when."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from ehe_register.models import AccessAction, AccessLog, Child, User


def access_log_record(
    *, user: User, children: Iterable[Child], action: AccessAction, path: str, as_of: datetime | None = None
) -> int:
    """Write one AccessLog row per child seen. Returns how many were written."""
    at = as_of or timezone.now()
    rows = [
        AccessLog(
            user=user,
            local_authority_id=child.local_authority_id,
            child=child,
            action=action,
            path=path[:300],
            at=at,
        )
        for child in children
    ]
    AccessLog.objects.bulk_create(rows)
    return len(rows)


def access_log_record_export(
    *,
    user: User,
    local_authority_id: int,
    child_ids: Iterable[int],
    action: AccessAction,
    path: str,
    as_of: datetime | None = None,
) -> int:
    """Write the AccessLog rows of one export: one per child exported, so that the log shows who
    exported whose record; an export with no child in it still writes one row (child empty), so
    that the export itself is on record. Returns how many rows were written."""
    at = as_of or timezone.now()
    ids = sorted(set(child_ids))
    rows = [
        AccessLog(
            user=user, local_authority_id=local_authority_id, child_id=child_id, action=action, path=path[:300], at=at
        )
        for child_id in ids
    ] or [
        AccessLog(user=user, local_authority_id=local_authority_id, child=None, action=action, path=path[:300], at=at)
    ]
    AccessLog.objects.bulk_create(rows, batch_size=2000)
    return len(rows)
