"""Celery tasks for the outbox. They take ids and ISO times, only call ``notifications.delivery``,
and are safe to run twice: a row already sent, or held by another worker, is left alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from celery import shared_task
from django.conf import settings

from notifications import delivery

# A retry further off than this is left to the beat claim: a long countdown would sit unacknowledged
# in the broker past its visibility timeout and be handed out twice.
_LONGEST_TASK_RETRY_SECONDS = 600


def _as_of(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@shared_task(name="notifications.message_deliver", bind=True, ignore_result=True)
def message_deliver(self: Any, message_id: int) -> dict[str, list[int]]:
    """Speed one message out; back off and try again on failure. New commits hand their emails over
    in batches (``messages_deliver``); this one stays for tasks already queued, and for a retry."""
    report = delivery.message_deliver(message_id=message_id)
    if report.retrying:
        from notifications.models import Message

        attempts = Message.objects.filter(pk=message_id).values_list("attempts", flat=True).first() or 1
        delay = delivery.retry_delay(attempts).total_seconds()
        if delay <= _LONGEST_TASK_RETRY_SECONDS and attempts < getattr(settings, "EHE_DELIVERY_MAX_ATTEMPTS", 8):
            raise self.retry(countdown=delay, max_retries=None)
    return {"sent": report.sent, "retrying": report.retrying, "failed": report.failed}


@shared_task(name="notifications.messages_deliver", ignore_result=True)
def messages_deliver(message_ids: list[int]) -> dict[str, list[int]]:
    """Speed out the emails one commit wrote, a batch at a time over one SMTP connection. A message
    that could not go is backed off in its row, and the beat claim sends it when it is due again."""
    report = delivery.messages_deliver_now(message_ids=message_ids)
    return {"sent": report.sent, "retrying": report.retrying, "failed": report.failed}


@shared_task(name="notifications.messages_deliver_due", ignore_result=True)
def messages_deliver_due(as_of: str | None = None) -> dict[str, Any]:
    """The beat claim (every minute): everything due, whether or not the broker ever saw it."""
    report = delivery.messages_deliver_due(as_of=_as_of(as_of))
    return {"sent": report.sent, "retrying": report.retrying, "failed": report.failed, "in_app": report.in_app}
