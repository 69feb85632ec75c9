"""Celery tasks for the rules. They take ISO times (or nothing: now) and only call services."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import shared_task
from django.utils import timezone

from ehe_register.models import RetentionTrigger
from workflows.integrity import integrity_report_send
from workflows.services.escalations import managers_digest_send
from workflows.services.retention import retention_apply as retention_run
from workflows.sweeps import SweepBusy, sweep_run

logger = logging.getLogger(__name__)


def _as_of(value: str | None) -> datetime:
    return datetime.fromisoformat(value) if value else timezone.now()


@shared_task(name="workflows.escalations_sweep", ignore_result=True)
def escalations_sweep(as_of: str | None = None, la_code: str | None = None, full: bool = False) -> dict[str, Any]:
    """The periodic sweep (every EHE_SWEEP_MINUTES): incremental, reading only what has come due
    since the last sweep; ``full`` (nightly, 01:30) checks every rule against every case. Safe to
    run twice: raising is idempotent, and a sweep that finds another one running leaves the work
    to it."""
    try:
        return sweep_run(as_of=_as_of(as_of), la_code=la_code, incremental=not full)
    except SweepBusy:
        logger.info("Sweep skipped: another sweep is running")
        return {}


@shared_task(name="workflows.managers_digest", ignore_result=True)
def managers_digest(as_of: str | None = None) -> int:
    """The managers' digest (07:30, Monday to Friday; bank holidays are skipped by the service).
    Safe to run twice: one message per manager per day (idempotency key)."""
    return managers_digest_send(as_of=_as_of(as_of))


@shared_task(name="workflows.integrity_check", ignore_result=True)
def integrity_check(as_of: str | None = None, la_code: str | None = None) -> int:
    """The daily integrity check (07:00 Europe/London): emails each LA's heads of service when it
    finds anything. Safe to run twice: one message per head of service per LA per day."""
    return integrity_report_send(as_of=_as_of(as_of), la_code=la_code)


@shared_task(name="workflows.retention_apply", ignore_result=True)
def retention_apply(as_of: str | None = None, la_code: str | None = None) -> int:
    """The monthly retention run (02:00 on the first of the month): anonymises what is due. Safe to
    run twice: an anonymised child is never due again. Returns how many children it anonymised."""
    result = retention_run(as_of=_as_of(as_of), trigger=RetentionTrigger.BEAT, la_code=la_code)
    return sum(result.anonymised.values())
