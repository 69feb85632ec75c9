"""A school's EHE off-roll notification: the form exactly as submitted, plus normalised fields.

Not to be confused with outbound messages (``notifications.Message``). Rows are immutable: a
database trigger refuses updates and deletes; only the retention service may anonymise them.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models


class RemovalStatus(models.TextChoices):
    REMOVED = "removed", "The pupil has been removed from the admission register"
    WAITING = "waiting", "The school is waiting for the local authority's decision"


class Routing(models.TextChoices):
    THIS_DEPLOYMENT = "here", "Registered with the child's local authority"
    FORWARDED = "forwarded", "The child lives in a local authority that does not use this service"


@pgtrigger.register(
    pgtrigger.Protect(name="offroll_notification_immutable", operation=pgtrigger.Update | pgtrigger.Delete)
)
class OffRollNotification(models.Model):
    reference = models.CharField(max_length=20, unique=True)
    school = models.ForeignKey("ehe_register.School", on_delete=models.PROTECT, related_name="notifications")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()
    snapshot = models.JSONField(help_text="The form exactly as received.")
    residence_la = models.ForeignKey(
        "ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="notifications"
    )
    routing = models.CharField(max_length=20, choices=Routing.choices)
    child = models.ForeignKey("ehe_register.Child", on_delete=models.PROTECT, null=True, related_name="notifications")
    episode = models.ForeignKey("workflows.Episode", on_delete=models.PROTECT, null=True, related_name="notifications")

    # Normalised fields.
    legal_first_name = models.CharField(max_length=100)
    legal_last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    upn = models.CharField(max_length=13, blank=True)
    postcode = models.CharField(max_length=8, blank=True)
    notice_received_on = models.DateField()
    removed_from_roll_on = models.DateField(blank=True, null=True)
    removal_status = models.CharField(max_length=10, choices=RemovalStatus.choices)
    # A code of the ReasonCode reference data (kept as its string, so that codes the DfE retires
    # still read back on old notifications).
    reason_code = models.CharField(max_length=30)
    safeguarding_concerns = models.BooleanField()
    outside_school_age = models.BooleanField(default=False)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["school", "submitted_at"])]

    def __str__(self) -> str:
        return self.reference
