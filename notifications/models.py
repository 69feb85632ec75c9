"""The outbox. A Message row is written in the same transaction as its cause; delivery happens
afterwards, at least once, keyed by ``idempotency_key`` (also the email Message-ID)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.fields.json import KeyTransform


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    IN_APP = "in_app", "In the service"


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed for good"


class Message(models.Model):
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True, related_name="messages"
    )
    recipient_email = models.EmailField(blank=True)
    local_authority = models.ForeignKey(
        "ehe_register.LocalAuthority", on_delete=models.PROTECT, blank=True, null=True, related_name="+"
    )
    template = models.CharField(max_length=80)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(blank=True, null=True)
    read_at = models.DateTimeField(blank=True, null=True)
    idempotency_key = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(recipient_user__isnull=False) | ~models.Q(recipient_email=""),
                name="message_has_a_recipient",
            )
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="message_due"),
            models.Index(fields=["recipient_user", "channel", "read_at"]),
            # The case page's timeline finds a case's messages by these payload keys: without
            # the indexes it read every message of every LA.
            models.Index(KeyTransform("episode_id", "payload"), name="message_episode"),
            models.Index(KeyTransform("case_reference", "payload"), name="message_case_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.template} to {self.recipient_user_id or self.recipient_email} ({self.status})"
