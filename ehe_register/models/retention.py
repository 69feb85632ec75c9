"""Retention: legal holds that keep a child's records, and the log of what retention anonymised.

Each LA keeps a closed child's records until the child's Nth birthday
(``LocalAuthority.retention_until_birthday``, 25 unless the LA says otherwise); then the retention
service (``workflows.services.retention``) anonymises them everywhere they live. A legal hold in
force keeps them as they are.
"""

from __future__ import annotations

from datetime import date

import pgtrigger
from django.conf import settings
from django.db import models


class LegalHold(models.Model):
    """A hold on one child's records: who placed it, why, and until when.

    In force from ``placed_at`` until it is lifted or its ``until`` day has passed (a blank
    ``until`` holds until someone lifts it). While any hold on a child is in force, retention
    leaves every record of that child as it is.
    """

    local_authority = models.ForeignKey("ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="+")
    child = models.ForeignKey("ehe_register.Child", on_delete=models.PROTECT, related_name="legal_holds")
    reason = models.TextField(help_text="Why the records must be kept: the claim, inquiry or request.")
    until = models.DateField(blank=True, null=True, help_text="Blank: until someone lifts the hold.")
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField()
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True, related_name="+"
    )
    lifted_at = models.DateTimeField(blank=True, null=True)
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        indexes = [models.Index(fields=["child"], condition=models.Q(lifted_at__isnull=True), name="legal_hold_open")]

    def __str__(self) -> str:
        return f"Legal hold on child {self.child_id}"

    def in_force_on(self, day: date) -> bool:
        return self.lifted_at is None and (self.until is None or self.until >= day)


class RetentionTrigger(models.TextChoices):
    COMMAND = "command", "manage.py apply_retention"
    BEAT = "beat", "Monthly schedule"


class RetentionRun(models.Model):
    """One run of the retention service: when, for which day, and what it changed.

    ``rows`` counts the rows changed in each place personal data lives (by the place's name).
    ``finished_at`` stays empty if the run stopped part-way: the chunks it finished are kept (each
    chunk is its own transaction), and the next run carries on from there.
    """

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(blank=True, null=True)
    as_of = models.DateField(help_text="Records of children whose retention birthday is on or before this day.")
    trigger = models.CharField(max_length=20, choices=RetentionTrigger.choices)
    local_authority = models.ForeignKey(
        "ehe_register.LocalAuthority", on_delete=models.PROTECT, blank=True, null=True, related_name="+"
    )
    children_anonymised = models.PositiveIntegerField(default=0)
    people_anonymised = models.PositiveIntegerField(default=0)
    children_held = models.PositiveIntegerField(default=0, help_text="Due, but kept by a legal hold.")
    rows = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Retention run of {self.started_at:%d %B %Y %H:%M}"


@pgtrigger.register(pgtrigger.Protect(name="anonymisation_append_only", operation=pgtrigger.Update | pgtrigger.Delete))
class Anonymisation(models.Model):
    """One child anonymised by one run (append-only): what is left of the record says when and how
    many rows were changed where, and nothing about who the child was."""

    run = models.ForeignKey(RetentionRun, on_delete=models.PROTECT, related_name="anonymisations")
    local_authority = models.ForeignKey("ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="+")
    child = models.ForeignKey("ehe_register.Child", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    rows = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["child"], name="child_anonymised_once")]

    def __str__(self) -> str:
        return f"Child {self.child_id} anonymised at {self.at}"
