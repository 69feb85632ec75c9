"""Writing outbound messages. Callers are inside their own transaction: the message commits
with its cause or not at all. Delivery (``notifications.delivery``) reads the outbox later."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from notifications.models import Channel, Message


def message_enqueue(
    *,
    template: str,
    idempotency_key: str,
    channel: Channel = Channel.EMAIL,
    recipient_user: Any = None,
    recipient_email: str = "",
    local_authority: Any = None,
    payload: dict[str, Any] | None = None,
    as_of: Any = None,
) -> Message:
    """Write one message to the outbox, once per idempotency key (a repeat returns the first).

    ``payload`` holds references and links only: never a child's name or details, which travel
    through the LA's own secure channels.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("message_enqueue must run inside the transaction of the change that causes it")
    now = as_of or timezone.now()
    message, _ = Message.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults={
            "channel": channel,
            "recipient_user": recipient_user,
            "recipient_email": recipient_email,
            "local_authority": local_authority,
            "template": template,
            "payload": payload or {},
            "created_at": now,
            "next_attempt_at": now,
        },
    )
    return message
