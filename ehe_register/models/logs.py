"""Append-only records: who viewed or exported which child's record, and officer absences."""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models


class AccessAction(models.TextChoices):
    VIEW = "view", "Viewed"
    EXPORT = "export", "Exported"
    EXPORT_UNMASKED = "export_unmasked", "Exported with confidential addresses shown"
    SUBJECT_ACCESS = "subject_access", "Exported for a subject access request"


@pgtrigger.register(pgtrigger.Protect(name="access_log_append_only", operation=pgtrigger.Update | pgtrigger.Delete))
class AccessLog(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    local_authority = models.ForeignKey("ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="+")
    child = models.ForeignKey("ehe_register.Child", on_delete=models.PROTECT, null=True, related_name="+")
    action = models.CharField(max_length=20, choices=AccessAction.choices)
    path = models.CharField(max_length=300)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["child", "at"]), models.Index(fields=["local_authority", "at"])]

    def __str__(self) -> str:
        return f"{self.user} {self.action} {self.child_id} at {self.at}"


class AbsenceKind(models.TextChoices):
    PLANNED = "planned", "Planned"
    UNEXPECTED = "unexpected", "Unexpected"


class Absence(models.Model):
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="absences")
    starts_on = models.DateField()
    ends_on = models.DateField(blank=True, null=True, help_text="Blank while the return date is not known.")
    kind = models.CharField(max_length=20, choices=AbsenceKind.choices)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True) | models.Q(ends_on__gte=models.F("starts_on")),
                name="absence_ends_after_it_starts",
            )
        ]
        indexes = [models.Index(fields=["officer", "starts_on"])]

    def __str__(self) -> str:
        return f"{self.officer} absent from {self.starts_on}"
