"""Writing outbound messages. Callers are inside their own transaction: the message commits
with its cause or not at all. Delivery (``notifications.delivery``) reads the outbox later.

The outbox row is the guarantee. After the cause commits, the new emails are also handed to
Celery workers, a batch to a task, so that they go out within seconds rather than at the next beat
claim; a broker
that is down (or slow) only costs that speed-up: the error is logged, never raised, and the beat
claim delivers the row later.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from notifications.models import Channel, Message

logger = logging.getLogger(__name__)

# While the broker is known to be down, do not make every commit wait for it to refuse again.
_broker_down_until = 0.0


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
    recipient_user_id: int | None = None,
    local_authority_id: int | None = None,
) -> Message:
    """Write one message to the outbox, once per idempotency key (a repeat returns the first).

    ``payload`` holds references and links only: never a child's name or details, which travel
    through the LA's own secure channels. The recipient and LA may be given as objects or ids.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("message_enqueue must run inside the transaction of the change that causes it")
    now = as_of or timezone.now()
    message, created = Message.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults={
            "channel": channel,
            "recipient_user_id": recipient_user.pk if recipient_user is not None else recipient_user_id,
            "recipient_email": recipient_email,
            "local_authority_id": local_authority.pk if local_authority is not None else local_authority_id,
            "template": template,
            "payload": payload or {},
            "created_at": now,
            "next_attempt_at": now,
        },
    )
    if created and message.channel == Channel.EMAIL:
        _push_after_commit([message.pk])
    return message


@dataclass(frozen=True)
class MessageSpec:
    """One message for :func:`messages_enqueue_many` (ids, not model instances)."""

    template: str
    idempotency_key: str
    channel: str
    recipient_user_id: int | None = None
    recipient_email: str = ""
    local_authority_id: int | None = None
    payload: dict[str, Any] | None = None


_SPEC_FIELDS = tuple(f.name for f in fields(MessageSpec))


def messages_enqueue_many(*, messages: Sequence[MessageSpec], as_of: datetime) -> list[int]:
    """Write many messages in one statement, once per idempotency key; returns the ids written.

    The set-based twin of :func:`message_enqueue` for sweeps that raise many escalations at once.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("messages_enqueue_many must run inside the transaction of the change that causes it")
    if not messages:
        return []
    # Field by field, not ``asdict``: that deep-copies every payload (17 s of a sweep raising 90,000).
    rows = [{name: getattr(m, name) for name in _SPEC_FIELDS} | {"payload": m.payload or {}} for m in messages]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO notifications_message
                (channel, recipient_user_id, recipient_email, local_authority_id, template, payload, status,
                 attempts, next_attempt_at, last_error, created_at, sent_at, read_at, idempotency_key)
            SELECT m.channel, m.recipient_user_id, m.recipient_email, m.local_authority_id, m.template, m.payload,
                   'pending', 0, %(as_of)s, '', %(as_of)s, NULL, NULL, m.idempotency_key
            FROM jsonb_to_recordset(%(rows)s::jsonb) AS m(
                channel text, recipient_user_id bigint, recipient_email text, local_authority_id bigint,
                template text, payload jsonb, idempotency_key text)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id, channel
            """,
            {"rows": json.dumps(rows), "as_of": as_of},
        )
        written = cursor.fetchall()
    emails = sorted(pk for pk, channel in written if channel == Channel.EMAIL)
    if emails:
        _push_after_commit(emails)
    return sorted(pk for pk, _ in written)


def _push_after_commit(message_ids: list[int]) -> None:
    if getattr(settings, "EHE_MESSAGE_PUSH", True):
        transaction.on_commit(lambda: messages_push(message_ids))


def messages_push(message_ids: Sequence[int]) -> int:
    """Hand committed messages to Celery workers, ``EHE_DELIVERY_BATCH`` to a task (each task sends
    its batch over one SMTP connection). Never raises: the beat claim is the guarantee.

    One broker connection for the lot, tried once with a short timeout: a broker that is down
    costs the caller a refused connection, not Celery's usual reconnection loop. After a failure,
    pushes stop for EHE_BROKER_RETRY_AFTER_SECONDS. Returns how many messages were handed over.

    The connection is kept for the thread's next push (``_broker_connection``): opening one cost
    more than the push itself (measured: 5 to 10 ms of a school's 70 ms submission). A kept
    connection that fails (the broker restarted since) is dropped and the push tried once more on
    a new one.
    """
    global _broker_down_until
    if not message_ids or time.monotonic() < _broker_down_until:
        return 0
    from notifications.tasks import messages_deliver  # the task module imports delivery, which imports this one

    timeout = getattr(settings, "EHE_BROKER_TIMEOUT_SECONDS", 2)
    size = max(1, int(getattr(settings, "EHE_DELIVERY_BATCH", 100)))
    ids = list(message_ids)
    pushed = 0
    while True:
        broker, kept = _broker_connection(messages_deliver.app, timeout)
        try:
            broker.ensure_connection(max_retries=0, timeout=timeout)
            for start in range(pushed, len(ids), size):
                batch = ids[start : start + size]
                messages_deliver.apply_async((batch,), retry=False, connection=broker)  # type: ignore[call-arg]
                pushed += len(batch)
            return pushed
        except Exception as error:  # any broker failure: refused, timed out, authentication
            _broker_connection_drop()
            if kept:
                continue  # once more, on a new connection
            _broker_down_until = time.monotonic() + getattr(settings, "EHE_BROKER_RETRY_AFTER_SECONDS", 30)
            logger.warning(
                "Broker unavailable (%s: %s): %d message(s) left for the outbox beat claim",
                error.__class__.__name__,
                error,
                len(ids) - pushed,
            )
            return pushed


# Each thread's broker connection, kept between pushes, and the broker and timeout it was opened for.
_broker = threading.local()


def _broker_connection(app: Any, timeout: float) -> tuple[Any, bool]:
    """The thread's kept connection to the app's broker (True), or a new one, now kept (False).
    Nothing is sent until the caller's ``ensure_connection``."""
    key = (app.conf.broker_write_url or app.conf.broker_url, timeout)
    if getattr(_broker, "connection", None) is not None and _broker.key == key:
        return _broker.connection, True
    _broker_connection_drop()
    options = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    _broker.connection, _broker.key = app.connection_for_write(transport_options=options), key
    return _broker.connection, False


def _broker_connection_drop() -> None:
    connection, _broker.connection = getattr(_broker, "connection", None), None
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.release()


def broker_state_reset() -> None:
    """Forget that the broker was down, and this thread's kept connection (tests, and a worker
    that has just reconnected)."""
    global _broker_down_until
    _broker_down_until = 0.0
    _broker_connection_drop()


def message_link_path(message: Message) -> str:
    """Where a message points inside the service, from the references in its payload (never a
    model of the layers above: URL names only): the escalation, else the case, else the page
    named in the payload, else the school's own notification, else the notifications page."""
    payload = message.payload or {}
    try:
        if isinstance(payload.get("escalation_id"), int):
            return reverse("cases:escalation", kwargs={"pk": payload["escalation_id"]})
        if isinstance(payload.get("episode_id"), int):
            return reverse("cases:detail", kwargs={"pk": payload["episode_id"]})
        if isinstance(payload.get("path"), str) and payload["path"].startswith("/"):
            return str(payload["path"])
        if isinstance(payload.get("reference"), str) and message.template == "emails/notification_receipt":
            return reverse("schools:notification_detail", kwargs={"reference": payload["reference"]})
    except NoReverseMatch:
        logger.warning("Message %s: no page for its payload", message.pk)
    return reverse("notifications:list")


def message_kind(message: Message) -> str:
    """The kind a user filters notifications by: the escalation rule, or the kind of message."""
    rule = (message.payload or {}).get("rule")
    return str(rule) if rule else message.template.removeprefix("emails/")


MESSAGE_KIND_LABELS = {
    "consent_decision": "Consent decisions",
    "notification_receipt": "Notification receipts",
    "school_request": "Requests to confirm contact details",
    "digest": "Daily digest",
}


def in_app_kinds_for(*, user: Any) -> list[tuple[str, str]]:
    """The kinds of the user's in-app notifications, with their labels, for the filter (one query)."""
    rows = (
        Message.objects.filter(recipient_user=user, channel=Channel.IN_APP)
        .values_list("template", "payload__rule", "payload__summary")
        .distinct()
    )
    kinds: dict[str, str] = {}
    for template, rule, summary in rows:
        if rule:
            kinds[str(rule)] = str(summary or rule)
        else:
            kind = template.removeprefix("emails/")
            kinds[kind] = MESSAGE_KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())
    return sorted(kinds.items(), key=lambda item: item[1])


def in_app_mark_one_read(*, user: Any, message_id: int, as_of: datetime | None = None) -> Message | None:
    """Mark one of the user's own in-app notifications read (idempotent: the first time stands);
    None if it is not theirs."""
    message = Message.objects.filter(pk=message_id, recipient_user=user, channel=Channel.IN_APP).first()
    if message is None:
        return None
    if message.read_at is None:
        Message.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=as_of or timezone.now())
    return message


def in_app_unread_count(*, user: Any) -> int:
    return Message.objects.filter(recipient_user=user, channel=Channel.IN_APP, read_at__isnull=True).count()


def in_app_mark_read(*, user: Any, as_of: datetime | None = None) -> int:
    """Mark every unread in-app notification of ``user`` as read; returns how many."""
    return Message.objects.filter(recipient_user=user, channel=Channel.IN_APP, read_at__isnull=True).update(
        read_at=as_of or timezone.now()
    )


def in_app_messages_for(*, user: Any, unread: bool = False, kind: str = "") -> Any:
    """The user's own in-app notifications, newest first (the only messages a user ever sees),
    optionally only the unread ones and only one kind (an escalation rule or a kind of message)."""
    messages = Message.objects.filter(recipient_user=user, channel=Channel.IN_APP).select_related("local_authority")
    if unread:
        messages = messages.filter(read_at__isnull=True)
    if kind:
        messages = messages.filter(Q(payload__rule=kind) | Q(template=f"emails/{kind}", payload__rule__isnull=True))
    return messages.order_by("-created_at", "-id")
