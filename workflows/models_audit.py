"""Quality audit of casework (DESIGN sections 1 and 6: "regular audits of practice").

An EHE manager draws a monthly sample of each officer's cases, reproducible from the seed stored
on the sample; each sampled case is audited against :class:`AuditItem` and scored; what needs
doing is recorded as :class:`AuditAction` rows, each with an owner and a due date.

- :class:`AuditSample`: one LA's sample for one month (at most one per LA and month).
- :class:`AuditCase`: one sampled case; ``audited_at`` is empty until the audit is recorded.
- :class:`AuditFinding`: the result for one checklist item of one audited case.
- :class:`AuditAction`: something to put right, open until ``completed_at`` is set; overdue
  when open after ``due_on``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditItem(models.TextChoices):
    """The checklist, in the order an auditor works through a case."""

    CONTACTS_VERIFIED = "contacts_verified", "Contact details verified with the family and one independent source"
    PREVIOUS_INVOLVEMENT = "previous_involvement", "Summary of previous involvement present and accurate"
    CONCERNS_PROGRESSED = "concerns_progressed", "Concerns progressed by their due time"
    CHILD_SEEN = "child_seen", "Child seen, and seen alone where expected"
    REVIEW_ON_TIME = "review_on_time", "Review held on time"
    RECORDING_QUALITY = "recording_quality", "Recording is clear, timely and complete"


class AuditResult(models.TextChoices):
    MET = "met", "Met"
    NOT_MET = "not_met", "Not met"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class AuditSample(models.Model):
    local_authority = models.ForeignKey("ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="The first day of the month sampled.")
    seed = models.BigIntegerField(help_text="Drawing again with this seed picks the same cases.")
    size_per_officer = models.PositiveSmallIntegerField()
    drawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    drawn_at = models.DateTimeField()

    class Meta:
        ordering = ["-month"]
        constraints = [models.UniqueConstraint(fields=["local_authority", "month"], name="one_audit_sample_per_month")]

    def __str__(self) -> str:
        return f"Audit sample for {self.month:%B %Y}"


class AuditCase(models.Model):
    sample = models.ForeignKey(AuditSample, on_delete=models.PROTECT, related_name="cases")
    episode = models.ForeignKey("workflows.Episode", on_delete=models.PROTECT, related_name="+")
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    audited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True, related_name="+"
    )
    audited_at = models.DateTimeField(blank=True, null=True)
    score = models.PositiveSmallIntegerField(
        blank=True, null=True, help_text="Per cent of the applicable checklist items met."
    )
    summary = models.TextField(blank=True)

    class Meta:
        ordering = ["officer_id", "episode_id"]
        constraints = [models.UniqueConstraint(fields=["sample", "episode"], name="audit_case_once_per_sample")]

    def __str__(self) -> str:
        return f"Audit of case {self.episode_id}"


class AuditFinding(models.Model):
    audit_case = models.ForeignKey(AuditCase, on_delete=models.CASCADE, related_name="findings")
    item = models.CharField(max_length=30, choices=AuditItem.choices)
    result = models.CharField(max_length=20, choices=AuditResult.choices)
    note = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["audit_case", "item"], name="audit_finding_once_per_item")]

    def __str__(self) -> str:
        return f"{self.get_item_display()}: {self.get_result_display()}"


class AuditAction(models.Model):
    """Something an audit found to put right. Like every clock in the service, it has a due date;
    an open action past it is overdue: shown (and counted) on the audit pages and, from the first
    working day after the due date, escalated (the ``audit_action_overdue`` rule: the EHE managers,
    then the head of service; the action's owner is told by name) until it is done."""

    audit_case = models.ForeignKey(AuditCase, on_delete=models.PROTECT, related_name="actions")
    local_authority = models.ForeignKey("ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="+")
    description = models.TextField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="audit_actions")
    due_on = models.DateField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True, related_name="+"
    )
    completed_at = models.DateTimeField(blank=True, null=True)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(
                fields=["local_authority", "due_on"],
                condition=models.Q(completed_at__isnull=True),
                name="audit_action_open_due",
            )
        ]

    def __str__(self) -> str:
        return f"Audit action due {self.due_on}"

    @property
    def is_open(self) -> bool:
        return self.completed_at is None
