"""Delivering the outbox: claim due rows, send them, mark them sent. At least once, never lost.

How a row moves::

    pending --claim--> sending --sent by SMTP, row marked--> sent
                          |--SMTP refused or down--> pending again, next_attempt_at backed off
                          |                          (after EHE_DELIVERY_MAX_ATTEMPTS: failed)
                          '--worker vanished--> still "sending"; once its lease
                                                (next_attempt_at) passes, claimed again

A claim is one statement: ``SELECT ... FOR UPDATE SKIP LOCKED`` picks due rows no one else is
claiming, and the same statement sets them ``sending``, counts the attempt, and sets
``next_attempt_at`` to the end of a lease (``EHE_DELIVERY_LEASE_SECONDS``). The claim commits
before anything is sent, so no database lock is held while talking to the SMTP server, and two
workers (the per-message Celery task and the beat claim) never send the same row at the same
time. Each email carries ``Message-ID: <key@ehe-register>`` built from the row's idempotency key,
so a receiving system can drop a repeat.

What happens when a worker dies (each tested, in process and against a real worker and a real
SMTP server in ``tests/notifications``):

1. **Before sending** (claimed, nothing sent): the row stays ``sending`` until its lease ends;
   the next beat claim after that takes it again and sends it. Delivered once, late by at most
   the lease; ``attempts`` counts the lost attempt.
2. **After the SMTP server accepted the message, before the row is marked sent**: the row also
   stays ``sending``, so after the lease it is sent again. The recipient gets a second copy
   with the same ``Message-ID``, which a mail system that deduplicates (or a person) can drop.
   This duplicate is the price of at-least-once delivery: the alternative, marking the row sent
   before sending, would lose the message when the worker dies in between.
3. **After marking the row sent**: nothing more happens. The broker may hand the unacknowledged
   task to another worker (tasks are acknowledged late), which finds the row sent and does
   nothing. Delivered once.

In-app notifications need no sending: they are visible in the service as soon as their cause
commits, and the claim marks them sent.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from notifications.models import Channel, Message, MessageStatus
from notifications.services import message_link_path

logger = logging.getLogger(__name__)

MESSAGE_ID_DOMAIN = "ehe-register"
_SAFE = re.compile(r"[A-Za-z0-9_-]")


def message_id_header(idempotency_key: str) -> str:
    """A valid RFC 5322 msg-id for ``idempotency_key``, the same on every attempt.

    Characters outside ``[A-Za-z0-9_-]`` (the ``:`` of the keys above all) are written ``=XX``
    in hex, so the left part is a dot-atom and two different keys never give the same id.
    """
    local = "".join(ch if _SAFE.fullmatch(ch) else "".join(f"={b:02X}" for b in ch.encode()) for ch in idempotency_key)
    return f"<{local}@{MESSAGE_ID_DOMAIN}>"


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after ``attempts`` failed attempts: base, 2 x base, 4 x base, ... capped."""
    base = _setting("EHE_DELIVERY_BACKOFF_SECONDS", 60)
    cap = _setting("EHE_DELIVERY_BACKOFF_MAX_SECONDS", 6 * 3600)
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def _crash_point(name: str) -> None:
    """Tests only: end the process here, as a worker killed mid-delivery would end.

    ``EHE_TEST_CRASH_POINT`` is read from the environment by settings outside production only.
    """
    if getattr(settings, "EHE_TEST_CRASH_POINT", "") == name and not settings.PRODUCTION:
        logger.warning("EHE_TEST_CRASH_POINT=%s: the worker dies here", name)
        os._exit(1)


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    in_app: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent,
            self.retrying + other.retrying,
            self.failed + other.failed,
            self.in_app + other.in_app,
        )


def in_app_mark_delivered(*, as_of: datetime) -> int:
    """In-app messages are delivered by existing: mark the due ones sent (skipping locked rows)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH due AS (
                SELECT id FROM notifications_message
                WHERE channel = %(in_app)s AND status IN ('pending', 'sending') AND next_attempt_at <= %(as_of)s
                FOR UPDATE SKIP LOCKED
            )
            UPDATE notifications_message m SET status = 'sent', sent_at = %(as_of)s, attempts = m.attempts + 1
            FROM due WHERE m.id = due.id
            """,
            {"in_app": Channel.IN_APP, "as_of": as_of},
        )
        return cursor.rowcount


def messages_claim(
    *, as_of: datetime, limit: int = 100, message_id: int | None = None, message_ids: Sequence[int] | None = None
) -> list[int]:
    """Claim due emails (or only ``message_id``, or only ``message_ids``, those that are due) for
    this worker; returns their ids.

    Due means pending with ``next_attempt_at`` reached, or sending with its lease run out (its
    worker died). The claim commits at once, so the send that follows holds no lock.
    """
    lease = timedelta(seconds=_setting("EHE_DELIVERY_LEASE_SECONDS", 300))
    if message_id is not None:
        message_ids = [message_id]
    only_these = "AND id = ANY(%(message_ids)s)" if message_ids is not None else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH due AS (
                SELECT id FROM notifications_message
                WHERE channel = %(email)s AND status IN ('pending', 'sending') AND next_attempt_at <= %(as_of)s
                {only_these}
                ORDER BY next_attempt_at, id
                LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
            )
            UPDATE notifications_message m
            SET status = 'sending', attempts = m.attempts + 1, next_attempt_at = %(lease_ends)s
            FROM due WHERE m.id = due.id
            RETURNING m.id
            """,  # noqa: S608 - the only interpolation is a fixed fragment chosen above
            {
                "email": Channel.EMAIL,
                "as_of": as_of,
                "lease_ends": as_of + lease,
                "limit": limit,
                "message_ids": list(message_ids or []),
            },
        )
        return sorted(row[0] for row in cursor.fetchall())


def _link(message: Message) -> str:
    """The page the message is about (its escalation or case), as an absolute address."""
    return f"{settings.EHE_BASE_URL.rstrip('/')}{message_link_path(message)}"


def message_context(message: Message) -> dict[str, Any]:
    """What the templates see: the payload (references only), the LA's team contact details and
    a link to the service; never a child's record."""
    la = message.local_authority
    due = message.payload.get("due_at")
    return {
        **message.payload,
        "due": timezone.localtime(datetime.fromisoformat(due)) if isinstance(due, str) else None,
        "service_name": settings.EHE_SERVICE_NAME,
        "council_name": la.header_name if la else "",
        "team_email": la.ehe_team_email if la else "",
        "team_phone": la.ehe_team_phone if la else "",
        "link": _link(message),
    }


def message_subject(message: Message) -> str:
    """The one-line subject (also the headline of an in-app notification)."""
    return " ".join(render_to_string(f"{message.template}_subject.txt", message_context(message)).split())


def message_render(message: Message) -> EmailMultiAlternatives:
    """The email for ``message``: subject, plain text and HTML from ``templates/emails/``."""
    context = message_context(message)
    text = render_to_string(f"{message.template}.txt", context)
    html = render_to_string(f"{message.template}.html", context)
    to = message.recipient_email or (message.recipient_user.email if message.recipient_user else "")
    email = EmailMultiAlternatives(
        subject=message_subject(message),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": message_id_header(message.idempotency_key), "Auto-Submitted": "auto-generated"},
    )
    email.attach_alternative(html, "text/html")
    return email


def _mark(message_id: int, **fields: Any) -> None:
    # Only a row this worker still holds as "sending" changes: if its lease ran out and another
    # worker sent it meanwhile, that worker's outcome stands.
    Message.objects.filter(pk=message_id, status=MessageStatus.SENDING).update(**fields)


def _failed(message: Message, error: str, as_of: datetime, report: DeliveryReport, *, permanent: bool) -> None:
    if permanent or message.attempts >= _setting("EHE_DELIVERY_MAX_ATTEMPTS", 8):
        _mark(message.pk, status=MessageStatus.FAILED, last_error=error[:2000])
        report.failed.append(message.pk)
        logger.error("Message %s failed for good after %d attempt(s): %s", message.pk, message.attempts, error)
    else:
        _mark(
            message.pk,
            status=MessageStatus.PENDING,
            next_attempt_at=as_of + retry_delay(message.attempts),
            last_error=error[:2000],
        )
        report.retrying.append(message.pk)
        logger.warning("Message %s not sent (attempt %d), retrying later: %s", message.pk, message.attempts, error)


def messages_send(*, message_ids: list[int], as_of: datetime) -> DeliveryReport:
    """Send claimed emails over one connection; mark each sent, or back off, or fail it for good."""
    report = DeliveryReport()
    messages = list(
        Message.objects.filter(pk__in=message_ids, status=MessageStatus.SENDING)
        .select_related("recipient_user", "local_authority")
        .order_by("pk")
    )
    if not messages:
        return report
    smtp = get_connection(fail_silently=False)
    try:
        for message in messages:
            try:
                email = message_render(message)
            except Exception as error:  # a template error will not mend itself
                _failed(message, f"Could not render: {error!r}", as_of, report, permanent=True)
                continue
            if not email.to[0]:
                _failed(message, "The recipient has no email address", as_of, report, permanent=True)
                continue
            _crash_point("before_send")
            try:
                smtp.send_messages([email])
            except Exception as error:  # SMTP down, refused, timed out: try again later
                _failed(message, f"{error.__class__.__name__}: {error}", as_of, report, permanent=False)
                smtp.close()
                continue
            _crash_point("after_smtp_accept")
            _mark(message.pk, status=MessageStatus.SENT, sent_at=timezone.now(), last_error="")
            report.sent.append(message.pk)
            _crash_point("after_mark")
    finally:
        try:
            smtp.close()
        except Exception:  # closing a connection that never opened
            logger.debug("SMTP connection close failed", exc_info=True)
    return report


def message_deliver(*, message_id: int, as_of: datetime | None = None) -> DeliveryReport:
    """Deliver one message now if it is due and no one else holds it (the per-message task)."""
    as_of = as_of or timezone.now()
    claimed = messages_claim(as_of=as_of, limit=1, message_id=message_id)
    return messages_send(message_ids=claimed, as_of=as_of) if claimed else DeliveryReport()


def messages_deliver_now(*, message_ids: Sequence[int], as_of: datetime | None = None) -> DeliveryReport:
    """Deliver these messages now, those that are due and held by no one else: one claim and one
    SMTP connection for the batch that a commit handed over (``notifications.services.messages_push``)."""
    as_of = as_of or timezone.now()
    claimed = messages_claim(as_of=as_of, limit=max(1, len(message_ids)), message_ids=message_ids)
    return messages_send(message_ids=claimed, as_of=as_of) if claimed else DeliveryReport()


def messages_deliver_due(*, as_of: datetime | None = None, batches: int | None = None) -> DeliveryReport:
    """The beat claim: mark due in-app messages delivered, then claim and send due emails in
    batches until none is left (or ``batches`` batches have gone, so one run stays short)."""
    as_of = as_of or timezone.now()
    batch_size = _setting("EHE_DELIVERY_BATCH", 100)
    batches = batches or _setting("EHE_DELIVERY_BATCHES_PER_RUN", 20)
    report = DeliveryReport(in_app=in_app_mark_delivered(as_of=as_of))
    for _ in range(batches):
        claimed = messages_claim(as_of=as_of, limit=batch_size)
        if not claimed:
            break
        report = report + messages_send(message_ids=claimed, as_of=as_of)
    return report
