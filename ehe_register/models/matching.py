"""Likely matches between child records, kept for an officer to resolve; never merged silently."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class MatchStatus(models.TextChoices):
    OPEN = "open", "To resolve"
    SAME_CHILD = "same_child", "Linked as the same child"
    DIFFERENT = "different", "Confirmed as a different child"


class PossibleMatch(models.Model):
    child = models.ForeignKey("ehe_register.Child", on_delete=models.CASCADE, related_name="possible_matches")
    candidate = models.ForeignKey("ehe_register.Child", on_delete=models.CASCADE, related_name="+")
    notification = models.ForeignKey(
        "ehe_register.OffRollNotification", on_delete=models.PROTECT, blank=True, null=True, related_name="+"
    )
    reasons = models.JSONField(default=list)
    status = models.CharField(max_length=20, choices=MatchStatus.choices, default=MatchStatus.OPEN)
    found_at = models.DateTimeField()
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True)
    resolved_at = models.DateTimeField(blank=True, null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["child", "candidate"], name="possible_match_once")]

    def __str__(self) -> str:
        return f"{self.child_id} may be {self.candidate_id}: {', '.join(self.reasons)}"


class ReferenceSequence(models.Model):
    """Per-LA counters for human-readable references (EHE-936-000123)."""

    prefix = models.CharField(max_length=20, unique=True)
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}: {self.last_value}"
