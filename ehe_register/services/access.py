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
