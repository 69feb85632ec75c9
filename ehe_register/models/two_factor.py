"""Two-factor enrolment links and the account security log.

A staff member without an authenticator cannot set one up with their password alone: an
administrator gives them a one-time enrolment link (``EnrolmentLink``), and only the person
holding both the link and the password can add a device. Only a hash of the link's token is
stored, so the table cannot be read to enrol as someone else.

``AccountEvent`` records every change to how someone signs in (a link issued, a device
enrolled, backup codes made or used, a device reset), who did it and when. It is append-only.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models


class EnrolmentLink(models.Model):
    """A one-time link to set up two-factor sign-in.

    States, in plain English: *live* (not used, not revoked, before ``expires_at``); *used* (a
    device was enrolled with it: ``used_at`` set); *revoked* (a newer link or a reset replaced
    it: ``revoked_at`` set); *expired* (still unused after ``expires_at``). Only a live link
    enrols, and only for its own user.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrolment_links")
    token_sha256 = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token, in hex.")
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when issued from the command line.",
    )
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "issued_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("issued_at")), name="enrolment_link_expires_after_issue"
            )
        ]

    def __str__(self) -> str:
        return f"Enrolment link for {self.user_id} issued {self.issued_at}"


class AccountEventKind(models.TextChoices):
    LINK_ISSUED = "link_issued", "Enrolment link issued"
    ENROLLED = "enrolled", "Authenticator app set up"
    BACKUP_CODES_MADE = "backup_codes_made", "Backup codes made"
    BACKUP_CODE_USED = "backup_code_used", "Backup code used to sign in"
    DEVICE_RESET = "device_reset", "Two-factor sign-in reset"


@pgtrigger.register(pgtrigger.Protect(name="account_event_append_only", operation=pgtrigger.Update | pgtrigger.Delete))
class AccountEvent(models.Model):
    """One change to how ``user`` signs in, made by ``actor`` (empty: the command line)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="account_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    kind = models.CharField(max_length=30, choices=AccountEventKind.choices)
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["user", "at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.user_id} at {self.at}"
