"""The outbox against a real Celery worker, real Redis and a real SMTP server on loopback.

Each test starts ``celery -A ehe_register worker --pool=solo`` as a subprocess on the pytest test
database, consuming a queue of its own on Redis (``EHE_TEST_REDIS_URL``, else a Redis
``CELERY_BROKER_URL``, else ``redis://127.0.0.1:6379/14``), and sending through an aiosmtpd
server on 127.0.0.1. A worker dies where ``EHE_TEST_CRASH_POINT`` says (``os._exit(1)`` in
``notifications.delivery``). Time-dependent steps pass ``as_of`` to the beat claim instead of
waiting; the only waiting is a bounded poll for the subprocess to do its work.
"""

from __future__ import annotations

import contextlib
import email
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from ehe_register.celery import app as celery_app
from ehe_register.embedded_db import database_url
from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role
from notifications import services
from notifications.delivery import message_id_header
from notifications.models import Channel, Message, MessageStatus
from notifications.services import message_enqueue
from notifications.tasks import message_deliver as message_deliver_task
from notifications.tasks import messages_deliver as messages_deliver_task
from notifications.tasks import messages_deliver_due as messages_deliver_due_task
from tests.ehe_register.intake_data import notification_input, with_concern
from tests.factories import SchoolFactory, make_user
from workflows.services.submission import notification_submit

BASE_DIR = Path(__file__).resolve().parents[2]
CELERY = BASE_DIR / ".venv" / "bin" / "celery"
LEASE = timedelta(seconds=300)  # EHE_DELIVERY_LEASE_SECONDS, the same in the worker and here


def _redis_url() -> str:
    explicit = os.environ.get("EHE_TEST_REDIS_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    return explicit or (broker if broker.startswith("redis://") else "redis://127.0.0.1:6379/14")


REDIS_URL = _redis_url()


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


pytestmark = [
    pytest.mark.celery_integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CELERY.exists(), reason="no celery executable in .venv"),
    pytest.mark.skipif(not _redis_up(), reason=f"Redis is not answering at {REDIS_URL}"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll a subprocess's effect, a bounded number of times."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}")


# --- The SMTP server --------------------------------------------------------------------------------


class Sink:
    """aiosmtpd handler keeping every message the server accepted."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def ids(self) -> list[str]:
        # A long Message-ID is folded onto its own line ("Message-ID:" CRLF SP "<...>"), as RFC 5322 allows.
        return [str(m["Message-ID"]).strip() for m in self.messages]


class Smtp:
    def __init__(self) -> None:
        self.port = _free_port()
        self.sink = Sink()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down() -> Iterator[Smtp]:
    server = Smtp()  # a port with nothing listening, until the test starts the server
    yield server
    server.stop()


# --- The broker and the worker ----------------------------------------------------------------------


def _reset_broker_pools() -> None:
    """Forget the app's pools, so that a changed ``broker_url`` is used from now on (kombu keeps
    one pool per broker URL, so the pools themselves are left open for the next test)."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[str]:
    """A queue of this test's own on Redis, and this process publishing to it (as the web does)."""
    name = f"ehe-test-{uuid.uuid4().hex[:10]}"
    # Celery reads CELERY_BROKER_URL from the environment before its configuration (CI sets it):
    # without this, the broker_url set here and by the tests would be ignored.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setitem(celery_app.conf, "broker_url", REDIS_URL)
    monkeypatch.setitem(celery_app.conf, "broker_transport_options", {})
    monkeypatch.setattr(message_deliver_task, "apply_async", partial(message_deliver_task.apply_async, queue=name))
    monkeypatch.setattr(messages_deliver_task, "apply_async", partial(messages_deliver_task.apply_async, queue=name))
    _reset_broker_pools()
    settings.EHE_MESSAGE_PUSH = True
    services.broker_state_reset()
    yield name
    services.broker_state_reset()
    _reset_broker_pools()
    _redis_forget(name)


def _redis_forget(queue: str) -> None:
    """Remove the test queue from Redis, with any task a dead worker left unacknowledged on it."""
    import json

    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for tag, raw in client.hgetall("unacked").items():
        with contextlib.suppress(ValueError, IndexError):
            if json.loads(raw)[2] == queue:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    for key in client.scan_iter(match=f"*{queue}*"):
        client.delete(key)


class Worker:
    """``celery worker --pool=solo`` as a subprocess, on the test database and the test's queue."""

    def __init__(self, queue: str, smtp_port: int, log: Path, crash_point: str = "") -> None:
        self.log = log
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "ehe_register.settings",
            "DATABASE_URL": database_url(django_settings.DATABASES["default"]),
            "CELERY_BROKER_URL": REDIS_URL,
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "EHE_TEST_CRASH_POINT": crash_point,
            "EHE_DELIVERY_LEASE_SECONDS": str(int(LEASE.total_seconds())),
            "EHE_DELIVERY_BACKOFF_SECONDS": "60",
            "DJANGO_ENV": "development",
        }
        self.handle = log.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own executable
            [
                str(CELERY),
                "-A",
                "ehe_register",
                "worker",
                "--pool=solo",
                "-c",
                "1",
                "-Q",
                queue,
                "-n",
                f"{queue}-{uuid.uuid4().hex[:4]}@%h",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
        )
        _wait_for(lambda: " ready." in self.text() or self.process.poll() is not None, "the worker to start")
        assert self.process.poll() is None, self.text()

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def succeeded(self, task_id: str) -> bool:
        return f"[{task_id}] succeeded" in self.text()

    def died(self) -> int | None:
        return self.process.poll()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.handle.close()


@pytest.fixture
def workers(tmp_path: Path, queue: str) -> Iterator[Callable[..., Worker]]:
    # Depends on ``queue`` so that the workers stop before the queue is removed.
    started: list[Worker] = []

    def start(queue: str, smtp_port: int, crash_point: str = "") -> Worker:
        worker = Worker(queue, smtp_port, tmp_path / f"worker-{len(started)}.log", crash_point)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


# --- Helpers -----------------------------------------------------------------------------------------


@pytest.fixture
def officer(la: LocalAuthority, settings: Any) -> User:
    return make_user(Role.EHE_OFFICER, la)


def outbox_email(user: User, key: str) -> Message:
    """An email written with its cause (committed here); the commit hands it to the worker."""
    with transaction.atomic():
        return message_enqueue(
            template="emails/escalation",
            idempotency_key=key,
            channel=Channel.EMAIL,
            recipient_user=user,
            local_authority=user.local_authority,
            payload={"rule": "consent_required", "summary": "Consent needed", "level": 1, "case_reference": "EHE-T"},
        )


def stored(message: Message) -> tuple[str, int]:
    row = Message.objects.get(pk=message.pk)
    return row.status, row.attempts


def beat_claim(worker: Worker, queue: str, after: timedelta = timedelta(0)) -> None:
    """The beat's delivery task, as at ``after`` from now, run by the worker to completion."""
    as_of = (timezone.now() + after).isoformat()
    result = messages_deliver_due_task.apply_async(kwargs={"as_of": as_of}, queue=queue)
    _wait_for(lambda: worker.succeeded(result.id), "the beat claim to run")


# --- The tests ---------------------------------------------------------------------------------------


def test_a_submissions_emails_are_delivered_once_each(
    la: LocalAuthority, queue: str, smtp: Smtp, workers: Callable[..., Worker], settings: Any
) -> None:
    make_user(Role.CSPA_DUTY_WORKER, la)
    make_user(Role.EHE_MANAGER, la)
    school = SchoolFactory(local_authority=la)
    submitter = make_user(Role.SCHOOL_USER, la)
    submitter.schools.set([school])
    worker = workers(queue, smtp.port)

    notification_submit(data=with_concern(notification_input(school, submitter)), as_of=timezone.now())

    emails = list(Message.objects.filter(channel=Channel.EMAIL))
    assert len(emails) == 2  # the receipt, and the concern to the front door's inbox
    _wait_for(lambda: len(smtp.sink.messages) == 2, "two emails")
    _wait_for(lambda: all(stored(m) == (MessageStatus.SENT, 1) for m in emails), "the rows marked sent")
    beat_claim(worker, queue, after=timedelta(hours=1))  # the beat claim afterwards finds nothing to do
    assert sorted(smtp.sink.ids()) == sorted(message_id_header(m.idempotency_key) for m in emails)
    for received in smtp.sink.messages:
        assert "Maya" not in str(received["Subject"])
        assert "Fletcher" not in received.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("point", "emails_after_death", "status_after_death", "emails_in_the_end", "attempts_in_the_end"),
    [
        # Claimed, nothing sent: sent once, after the lease.
        ("before_send", 0, MessageStatus.SENDING, 1, 2),
        # The server took it, the row was not marked: sent again after the lease, same Message-ID.
        ("after_smtp_accept", 1, MessageStatus.SENDING, 2, 2),
        # Marked sent: nothing more, even when the unacknowledged task runs again.
        ("after_mark", 1, MessageStatus.SENT, 1, 1),
    ],
)
def test_a_worker_dying_during_delivery(
    point: str,
    emails_after_death: int,
    status_after_death: str,
    emails_in_the_end: int,
    attempts_in_the_end: int,
    officer: User,
    queue: str,
    smtp: Smtp,
    workers: Callable[..., Worker],
) -> None:
    doomed = workers(queue, smtp.port, crash_point=point)
    message = outbox_email(officer, f"crash:{point}")

    assert _wait_for(lambda: doomed.died() is not None, "the worker to die") == 1
    assert len(smtp.sink.messages) == emails_after_death
    assert stored(message) == (status_after_death, 1)

    worker = workers(queue, smtp.port)
    beat_claim(worker, queue, after=LEASE - timedelta(seconds=30))  # the lease still holds
    assert len(smtp.sink.messages) == emails_after_death
    beat_claim(worker, queue, after=LEASE + timedelta(seconds=1))
    again = messages_deliver_task.apply_async(([message.pk],))  # the task the dead worker never acknowledged
    _wait_for(lambda: worker.succeeded(again.id), "the task to run again")

    assert len(smtp.sink.messages) == emails_in_the_end
    assert set(smtp.sink.ids()) == {message_id_header(f"crash:{point}")}
    assert stored(message) == (MessageStatus.SENT, attempts_in_the_end)


def test_smtp_down_then_up_delivers_everything_once(
    officer: User, queue: str, smtp_down: Smtp, workers: Callable[..., Worker]
) -> None:
    worker = workers(queue, smtp_down.port)
    messages = [outbox_email(officer, f"smtp-down:{n}") for n in range(4)]
    _wait_for(lambda: all(stored(m) == (MessageStatus.PENDING, 1) for m in messages), "each first attempt to fail")
    assert "ConnectionRefusedError" in Message.objects.get(pk=messages[0].pk).last_error

    smtp_down.start()
    beat_claim(worker, queue, after=timedelta(seconds=61))  # past the first back-off

    assert sorted(smtp_down.sink.ids()) == sorted(message_id_header(f"smtp-down:{n}") for n in range(4))
    assert {stored(m) for m in messages} == {(MessageStatus.SENT, 2)}


def test_redis_down_during_a_submission_the_submission_succeeds_and_its_emails_go_later(
    la: LocalAuthority,
    queue: str,
    smtp: Smtp,
    workers: Callable[..., Worker],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    settings: Any,
) -> None:
    settings.EHE_MESSAGE_PUSH = True  # the hand-off to the (down) broker is what this test is about
    school = SchoolFactory(local_authority=la)
    submitter = make_user(Role.SCHOOL_USER, la)
    submitter.schools.set([school])
    closed = f"redis://127.0.0.1:{_free_port()}/14"

    with monkeypatch.context() as down:
        down.setitem(celery_app.conf, "broker_url", closed)
        started = time.monotonic()
        notification = notification_submit(data=notification_input(school, submitter), as_of=timezone.now())
        took = time.monotonic() - started

    assert notification.pk is not None
    assert took < 3, f"a down broker held the submission up for {took:.1f}s"
    assert "Broker unavailable" in caplog.text
    [receipt] = Message.objects.filter(channel=Channel.EMAIL)
    assert stored(receipt) == (MessageStatus.PENDING, 0)

    services.broker_state_reset()  # Redis is back
    worker = workers(queue, smtp.port)
    beat_claim(worker, queue)

    assert smtp.sink.ids() == [message_id_header(receipt.idempotency_key)]
    assert stored(receipt) == (MessageStatus.SENT, 1)
