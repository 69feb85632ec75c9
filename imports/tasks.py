"""Celery task for imports. It takes the batch's id and only calls ``imports.services``; it is
safe to run twice (a finished batch is left alone; rows already written are unchanged)."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="imports.batch_run", ignore_result=True)
def batch_run(batch_id: int) -> dict[str, Any]:
    from imports.services import batch_run as run

    batch = run(batch_id=batch_id)
    return {"batch": batch.pk, "status": batch.status, "rows_done": batch.rows_done}


@shared_task(name="imports.batch_check", ignore_result=True)
def batch_check(batch_id: int) -> dict[str, Any]:
    """The preview of a large file (``imports.services.batch_check``)."""
    from imports.services import batch_check as check

    batch = check(batch_id=batch_id)
    return {"batch": batch.pk, "status": batch.status, "rows_total": batch.rows_total}
