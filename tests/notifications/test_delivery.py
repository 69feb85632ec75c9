"""The outbox, in process: claiming, sending, backing off, the three worker-death points, the
hand-off to Celery after commit, what the emails say (and do not say), and in-app notifications."""

from __future__ import annotations

import email
import smtplib
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from email.headerregistry import HeaderRegistry
from email.policy import default as default_policy
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery.exceptions import Retry
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connections, transaction
from django.urls import reverse

from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role
from notifications import delivery, services
from notifications.delivery import message_deliver, message_id_header, messages_claim, messages_deliver_due
from notifications.models import Channel, Message, MessageStatus
from notifications.services import MessageSpec, in_app_unread_count, message_enqueue, messages_enqueue_many
from notifications.tasks import message_deliver as message_deliver_task
from notifications.tasks import messages_deliver as messages_deliver_task
from notifications.tasks import messages_deliver_due as messages_deliver_due_task
from tests.ehe_register.intake_data import notification_input, with_concern
from tests.factories import SchoolFactory, make_user
from workflows.services.submission import notification_submit

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 25, 11, 0, tzinfo=LONDON)
NAMES = ("Maya", "Fletcher", "Joanne", "bruising")  # the child, the parent, the concern (intake_data)


@pytest.fixture(autouse=True)
def outbox_settings(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.EHE_TEST_CRASH_POINT = ""
    settings.EHE_DELIVERY_LEASE_SECONDS = 300
    settings.EHE_DELIVERY_BACKOFF_SECONDS = 60
    settings.EHE_DELIVERY_MAX_ATTEMPTS = 4


@pytest.fixture(autouse=True)
def broker_state() -> Iterator[None]:
    services.broker_state_reset()
    yield
    services.broker_state_reset()


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that is down."""

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class Died(BaseException):
    """What os._exit would do to the worker, caught so the test can look at what is left."""


def outbox_email(user: User, key: str = "test:1", at: datetime = T0, **payload: Any) -> Message:
    with transaction.atomic():
        return message_enqueue(
            template="emails/escalation",
            idempotency_key=key,
            channel=Channel.EMAIL,
            recipient_user=user,
            local_authority=user.local_authority,
            payload={"rule": "consent_required", "summary": "Consent needed", "level": 1, "case_reference": "EHE-X"}
            | payload,
            as_of=at,
        )


def row(message: Message) -> tuple[str, int]:
    message = Message.objects.get(pk=message.pk)
    return message.status, message.attempts


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la)


# --- Message-ID ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["receipt:EHE-936-000001:email", "escalation:12:raised:1:ehe_manager:5:email", "digest:936:2026-11-25:7", "a.b"],
)
def test_the_message_id_is_a_valid_msg_id_made_from_the_idempotency_key(key: str) -> None:
    value = message_id_header(key)
    header = HeaderRegistry()("Message-ID", value)
    assert not header.defects
    assert value.startswith("<")
    assert value.endswith("@ehe-register>")
    assert message_id_header(key) == value  # the same on every attempt


def test_different_keys_never_share_a_message_id() -> None:
    assert message_id_header("a:b") != message_id_header("a.b") != message_id_header("a=3Ab")
    assert message_id_header("receipt:R-1:email") == "<receipt=3AR-1=3Aemail@ehe-register>"


# --- Delivery --------------------------------------------------------------------------------------


def test_a_submission_s_messages_are_delivered_once_with_no_child_details(la: LocalAuthority) -> None:
    make_user(Role.CSPA_DUTY_WORKER, la)
    make_user(Role.EHE_MANAGER, la)
    school = SchoolFactory(local_authority=la)
    submitter = make_user(Role.SCHOOL_USER, la)
    submitter.schools.set([school])
    notification = notification_submit(data=with_concern(notification_input(school, submitter)), as_of=T0)
    emails = Message.objects.filter(channel=Channel.EMAIL)
    assert emails.count() == 2  # the receipt; the concern to the front door's inbox

    report = messages_deliver_due(as_of=T0 + timedelta(seconds=5))

    assert sorted(report.sent) == sorted(emails.values_list("pk", flat=True))
    assert report.in_app == 1
    assert len(mail.outbox) == 2
    assert {tuple(m.to) for m in mail.outbox} == {(submitter.email,), (la.front_door_email,)}
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}
    for sent in mail.outbox:
        html = sent.alternatives[0][0]  # type: ignore[attr-defined]
        for name in NAMES:
            assert name not in sent.subject
            assert name not in sent.body
            assert name not in html
        parsed = email.message_from_bytes(sent.message().as_bytes(), policy=default_policy)
        assert not parsed["Message-ID"].defects
    receipt = next(m for m in mail.outbox if notification.reference in m.subject)
    assert receipt.to == [submitter.email]
    key = f"receipt:{notification.reference}:email"
    assert receipt.extra_headers["Message-ID"] == message_id_header(key)
    assert "999" in receipt.body

    assert messages_deliver_due(as_of=T0 + timedelta(hours=1)).sent == []  # nothing twice
    assert len(mail.outbox) == 2


def test_an_escalation_email_holds_the_reference_a_link_and_the_teams_contacts(
    la: LocalAuthority, officer: User
) -> None:
    outbox_email(officer, due_at="2026-11-26T17:00:00+00:00", level=2)

    messages_deliver_due(as_of=T0)

    [sent] = mail.outbox
    assert sent.subject == "Consent needed: case EHE-X (escalated to level 2)"
    assert "http://localhost:8000/notifications/" in sent.body
    assert "Thursday 26 November 2026, 17:00" in sent.body
    assert la.ehe_team_email in sent.body
    assert sent.alternatives[0][1] == "text/html"  # type: ignore[attr-defined]


def test_an_external_recipient_gets_the_reference_and_the_teams_contacts_only(la: LocalAuthority) -> None:
    with transaction.atomic():
        message_enqueue(
            template="emails/escalation_external",
            idempotency_key="ext:1",
            recipient_email="sen@example.org",
            local_authority=la,
            payload={"case_reference": "EHE-936-C000042", "summary": "The child has an EHCP"},
            as_of=T0,
        )

    messages_deliver_due(as_of=T0)

    [sent] = mail.outbox
    assert sent.to == ["sen@example.org"]
    assert "EHE-936-C000042" in sent.subject
    assert "http" not in sent.body
    assert la.ehe_team_phone in sent.body


def test_a_message_not_yet_due_is_left_alone(officer: User) -> None:
    message = outbox_email(officer, at=T0 + timedelta(minutes=10))

    assert messages_claim(as_of=T0) == []
    assert row(message) == (MessageStatus.PENDING, 0)


def test_in_app_messages_are_marked_delivered_and_stay_unread(officer: User) -> None:
    with transaction.atomic():
        message_enqueue(
            template="emails/escalation",
            idempotency_key="in-app:1",
            channel=Channel.IN_APP,
            recipient_user=officer,
            payload={"summary": "Consent needed", "case_reference": "EHE-X", "level": 1},
            as_of=T0,
        )

    report = messages_deliver_due(as_of=T0)

    assert (report.in_app, report.sent, len(mail.outbox)) == (1, [], 0)
    assert Message.objects.get().status == MessageStatus.SENT
    assert in_app_unread_count(user=officer) == 1


def test_a_recipient_without_an_email_address_fails_for_good_at_once(la: LocalAuthority) -> None:
    nobody = make_user(Role.EHE_OFFICER, la, email="")
    message = outbox_email(nobody)

    report = messages_deliver_due(as_of=T0)

    assert report.failed == [message.pk]
    assert row(message) == (MessageStatus.FAILED, 1)


# --- Retries -------------------------------------------------------------------------------------


def test_smtp_down_backs_off_exponentially_then_fails_for_good(settings: Any, officer: User) -> None:
    settings.EMAIL_BACKEND = "tests.notifications.test_delivery.RefusingBackend"
    message = outbox_email(officer)
    moment = T0
    for attempt, wait in [(1, 60), (2, 120), (3, 240)]:
        report = messages_deliver_due(as_of=moment)
        assert report.retrying == [message.pk]
        stored = Message.objects.get(pk=message.pk)
        assert (stored.status, stored.attempts) == (MessageStatus.PENDING, attempt)
        assert stored.next_attempt_at == moment + timedelta(seconds=wait)
        assert "SMTPServerDisconnected" in stored.last_error
        assert messages_claim(as_of=stored.next_attempt_at - timedelta(seconds=1)) == []
        moment = stored.next_attempt_at

    report = messages_deliver_due(as_of=moment)

    assert report.failed == [message.pk]
    assert row(message) == (MessageStatus.FAILED, 4)
    assert messages_deliver_due(as_of=moment + timedelta(days=1)).failed == []


def test_smtp_down_then_up_delivers_everything_once(settings: Any, officer: User) -> None:
    settings.EMAIL_BACKEND = "tests.notifications.test_delivery.RefusingBackend"
    messages = [outbox_email(officer, key=f"k:{n}") for n in range(5)]
    messages_deliver_due(as_of=T0)
    assert {row(m) for m in messages} == {(MessageStatus.PENDING, 1)}

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    report = messages_deliver_due(as_of=T0 + timedelta(seconds=60))

    assert sorted(report.sent) == sorted(m.pk for m in messages)
    assert sorted(m.extra_headers["Message-ID"] for m in mail.outbox) == sorted(
        message_id_header(f"k:{n}") for n in range(5)
    )


# --- A worker that dies (os._exit in a real worker; tests/notifications/test_celery_integration) ---


@pytest.fixture
def crash_at(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    def die(code: int) -> None:
        raise Died(code)

    monkeypatch.setattr(delivery.os, "_exit", die)

    def arm(point: str) -> None:
        settings.EHE_TEST_CRASH_POINT = point

    return arm


def test_death_before_sending_delivers_once_after_the_lease(crash_at: Any, settings: Any, officer: User) -> None:
    message = outbox_email(officer)
    crash_at("before_send")
    with pytest.raises(Died):
        messages_deliver_due(as_of=T0)
    assert row(message) == (MessageStatus.SENDING, 1)
    assert mail.outbox == []

    crash_at("")
    assert messages_deliver_due(as_of=T0 + timedelta(seconds=299)).sent == []  # still leased
    assert messages_deliver_due(as_of=T0 + timedelta(seconds=300)).sent == [message.pk]

    assert row(message) == (MessageStatus.SENT, 2)
    assert len(mail.outbox) == 1


def test_death_after_the_smtp_server_accepted_sends_a_second_copy_with_the_same_message_id(
    crash_at: Any, officer: User
) -> None:
    message = outbox_email(officer)
    crash_at("after_smtp_accept")
    with pytest.raises(Died):
        messages_deliver_due(as_of=T0)
    assert row(message) == (MessageStatus.SENDING, 1)
    assert len(mail.outbox) == 1

    crash_at("")
    messages_deliver_due(as_of=T0 + timedelta(seconds=300))

    assert row(message) == (MessageStatus.SENT, 2)
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [message_id_header("test:1")] * 2


def test_death_after_marking_sent_delivers_once(crash_at: Any, officer: User) -> None:
    message = outbox_email(officer)
    crash_at("after_mark")
    with pytest.raises(Died):
        message_deliver(message_id=message.pk, as_of=T0)
    assert row(message) == (MessageStatus.SENT, 1)

    crash_at("")
    assert messages_deliver_due(as_of=T0 + timedelta(hours=1)).sent == []
    assert message_deliver(message_id=message.pk, as_of=T0 + timedelta(hours=1)).sent == []  # the task again
    assert len(mail.outbox) == 1


def test_the_crash_point_is_ignored_in_production(settings: Any, crash_at: Any, officer: User) -> None:
    settings.PRODUCTION = True
    outbox_email(officer)
    crash_at("before_send")

    assert len(messages_deliver_due(as_of=T0).sent) == 1


@pytest.mark.django_db(transaction=True)
def test_a_row_another_worker_is_claiming_is_skipped_not_waited_for(la: LocalAuthority, officer: User) -> None:
    first = outbox_email(officer, key="a")
    second = outbox_email(officer, key="b")
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT id FROM notifications_message WHERE id = %s FOR UPDATE", [first.pk])
            assert messages_claim(as_of=T0) == [second.pk]  # at once: no waiting for the other worker
            cursor.execute("ROLLBACK")
    finally:
        other.close()
    assert messages_claim(as_of=T0) == [first.pk]


# --- Handing new emails to Celery after commit ----------------------------------------------------


def test_a_new_email_is_handed_to_a_worker_after_commit_and_in_app_ones_are_not(
    settings: Any, officer: User, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EHE_MESSAGE_PUSH = True
    with (
        mock.patch.object(messages_deliver_task, "apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        message = outbox_email(officer)
        with transaction.atomic():
            message_enqueue(
                template="emails/escalation",
                idempotency_key="in-app:2",
                channel=Channel.IN_APP,
                recipient_user=officer,
                as_of=T0,
            )
        assert apply_async.call_count == 0  # not before the commit
    apply_async.assert_called_once()
    assert apply_async.call_args.args == (([message.pk],),)
    assert apply_async.call_args.kwargs["retry"] is False


def test_many_emails_from_one_commit_go_to_workers_in_batches(
    settings: Any, officer: User, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EHE_MESSAGE_PUSH = True
    settings.EHE_DELIVERY_BATCH = 100
    with (
        mock.patch.object(messages_deliver_task, "apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        messages_enqueue_many(
            messages=[
                MessageSpec(
                    template="emails/escalation",
                    idempotency_key=f"batch:{n}",
                    channel=Channel.EMAIL,
                    recipient_user_id=officer.pk,
                )
                for n in range(250)
            ],
            as_of=T0,
        )

    batches = [call.args[0][0] for call in apply_async.call_args_list]
    assert [len(batch) for batch in batches] == [100, 100, 50]
    assert sorted(pk for batch in batches for pk in batch) == sorted(Message.objects.values_list("pk", flat=True))


def test_a_batch_task_sends_its_due_messages_and_leaves_the_rest_to_the_beat_claim(
    settings: Any, officer: User
) -> None:
    due = [outbox_email(officer, key=f"due:{n}") for n in range(3)]
    later = outbox_email(officer, key="later", at=T0 + timedelta(days=1))
    mail.outbox.clear()

    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        report = messages_deliver_task([m.pk for m in [*due, later]])

    assert sorted(report["sent"]) == sorted(m.pk for m in due)
    assert len(mail.outbox) == 3
    assert row(later) == (MessageStatus.PENDING, 0)


def test_a_broker_that_is_down_never_fails_the_cause(
    settings: Any, officer: User, django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.EHE_MESSAGE_PUSH = True
    with (
        mock.patch.object(messages_deliver_task, "apply_async", side_effect=OSError("Connection refused")) as apply,
        django_capture_on_commit_callbacks(execute=True),
    ):
        outbox_email(officer, key="one")
        outbox_email(officer, key="two")  # within the back-off: not even tried

    assert apply.call_count == 1
    assert "Broker unavailable (OSError: Connection refused)" in caplog.text
    assert Message.objects.filter(status=MessageStatus.PENDING).count() == 2  # the beat claim sends them


def test_the_push_keeps_its_broker_connection_and_replaces_one_gone_stale(
    settings: Any, officer: User, django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.EHE_MESSAGE_PUSH = True
    app = messages_deliver_task.app
    with (
        mock.patch.object(app, "connection_for_write", side_effect=lambda **_: mock.MagicMock()) as opened,
        mock.patch.object(messages_deliver_task, "apply_async") as apply,
    ):
        for key in ("one", "two"):
            with django_capture_on_commit_callbacks(execute=True):
                outbox_email(officer, key=key)
        assert (opened.call_count, apply.call_count) == (1, 2)  # one connection for both pushes

        apply.side_effect = [OSError("Connection reset by peer"), None]  # the broker restarted
        with django_capture_on_commit_callbacks(execute=True):
            outbox_email(officer, key="three")

    assert (opened.call_count, apply.call_count) == (2, 4)  # the stale one dropped, a new one worked
    assert "Broker unavailable" not in caplog.text


def test_the_push_can_be_switched_off(settings: Any, officer: User, django_capture_on_commit_callbacks: Any) -> None:
    settings.EHE_MESSAGE_PUSH = False
    with django_capture_on_commit_callbacks() as callbacks:
        outbox_email(officer)
    assert callbacks == []


def test_the_tasks_deliver_and_back_off(settings: Any, officer: User) -> None:
    message = outbox_email(officer, at=datetime(2020, 1, 1, tzinfo=LONDON))
    assert messages_deliver_due_task(as_of=T0.isoformat()) == {
        "sent": [message.pk],
        "retrying": [],
        "failed": [],
        "in_app": 0,
    }

    settings.EMAIL_BACKEND = "tests.notifications.test_delivery.RefusingBackend"
    again = outbox_email(officer, key="again", at=datetime(2020, 1, 1, tzinfo=LONDON))
    with pytest.raises(Retry):
        message_deliver_task(again.pk)
    assert row(again) == (MessageStatus.PENDING, 1)


def test_enqueueing_outside_a_transaction_is_refused(officer: User) -> None:
    with (
        mock.patch.object(transaction.get_connection(), "in_atomic_block", False),
        pytest.raises(RuntimeError, match="inside the transaction"),
    ):
        message_enqueue(template="emails/escalation", idempotency_key="x", recipient_user=officer)


# --- Templates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "payload", "expected"),
    [
        (
            "emails/notification_receipt",
            {"reference": "EHE-936-000007", "routing": "this", "la_name": "Surrey"},
            "EHE-936-000007",
        ),
        (
            "emails/consent_decision",
            {"reference": "EHE-936-000007", "decision": "refused", "la_name": "Surrey"},
            "stays on",
        ),
        (
            "emails/consent_decision",
            {"case_reference": "EHE-936-C000007", "granted": True},
            "Consent is granted",
        ),
        (
            "emails/digest",
            {
                "la_name": "Surrey County Council",
                "date": "Wednesday 25 November 2026",
                "rules": [{"summary": "Contact details are not yet verified", "open": 2, "overdue": 1, "level_1": 2}],
                "open_total": 2,
                "overdue_total": 1,
                "raised_since": 1,
                "climbed_since": 0,
                "resolved_since": 0,
                "reassigned_since": 0,
                "overdue_cases": ["EHE-936-C000001"],
            },
            "EHE-936-C000001",
        ),
    ],
)
def test_each_template_has_a_subject_a_plain_text_part_and_an_html_part(
    template: str, payload: dict[str, Any], expected: str, la: LocalAuthority
) -> None:
    message = Message(template=template, payload=payload, local_authority=la, recipient_email="x@example.org")
    rendered = delivery.message_render(message)
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert expected in rendered.body
    assert expected in rendered.alternatives[0][0]  # type: ignore[attr-defined]
    assert "&#x27;" not in rendered.body  # plain text is not HTML-escaped


# --- In-app notifications --------------------------------------------------------------------------


def test_the_header_shows_the_unread_count_and_the_list_marks_them_read(client: Any, officer: User) -> None:
    with transaction.atomic():
        for n in range(2):
            message_enqueue(
                template="emails/escalation",
                idempotency_key=f"in-app:{n}",
                channel=Channel.IN_APP,
                recipient_user=officer,
                payload={"summary": "The review date has passed", "case_reference": f"EHE-936-C00000{n}", "level": 1},
                as_of=T0,
            )
    client.force_login(officer)

    page = client.get(reverse("notifications:list")).content.decode()

    assert "Notifications (2 unread)" in page
    assert "The review date has passed: case EHE-936-C000001" in page
    response = client.post(reverse("notifications:mark_read"))
    assert response.status_code == 302
    assert in_app_unread_count(user=officer) == 0
    assert "Notifications (0 unread)" in client.get(reverse("home")).content.decode()


def test_no_one_sees_anyone_elses_notifications(client: Any, la: LocalAuthority, officer: User) -> None:
    colleague = make_user(Role.EHE_OFFICER, la)
    with transaction.atomic():
        message_enqueue(
            template="emails/escalation",
            idempotency_key="in-app:mine",
            channel=Channel.IN_APP,
            recipient_user=colleague,
            payload={"summary": "Private", "case_reference": "EHE-936-C000009", "level": 1},
            as_of=T0,
        )
    client.force_login(officer)

    page = client.get(reverse("notifications:list")).content.decode()

    assert "EHE-936-C000009" not in page
    assert "Notifications (0 unread)" in page
