"""Reference data an administrator maintains: the DfE's reasons for elective home education.

The DfE changes its list between collections (two reasons were added from autumn 2025), so the
codes are rows, loaded from ``fixtures/reason_codes.csv`` and extended in the Django admin, not a
fixed enumeration in code. Forms offer the active rows; stored values are the ``code`` strings,
so retiring a code (``active`` off) never rewrites a record that used it.
"""

from __future__ import annotations

from django.db import models


class ReasonCode(models.Model):
    """One DfE reason for elective home education, as the termly EHE census reports it.

    The class attributes below name the codes the code base itself refers to (demo data, tests);
    they are the stored strings, not a list of what exists: the table is that list.
    """

    PHILOSOPHICAL = "philosophical"
    LIFESTYLE = "lifestyle"
    RELIGIOUS = "religious"
    MENTAL_HEALTH = "mental_health"
    PHYSICAL_HEALTH = "physical_health"
    COVID = "covid"
    DISSATISFIED_GENERAL = "dissatisfied_general"
    DISSATISFIED_SEND = "dissatisfied_send"
    DISSATISFIED_BULLYING = "dissatisfied_bullying"
    NO_PREFERENCE = "no_preference"
    PERMANENT_EXCLUSION = "permanent_exclusion"
    RISK_OF_EXCLUSION = "risk_of_exclusion"
    OFF_ROLLING = "off_rolling"
    OTHER = "other"
    NO_REASON_GIVEN = "no_reason_given"
    UNKNOWN = "unknown"

    code = models.CharField(max_length=30, unique=True, help_text="Stored on notifications and cases; never change it.")
    label = models.CharField(max_length=150, help_text="As the DfE words the reason.")
    dfe_category = models.CharField(
        "DfE breakdown",
        max_length=150,
        blank=True,
        help_text="The breakdown the DfE's published ehe_census.csv uses; the label when blank.",
    )
    order = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True, help_text="Offered on forms. Switch off rather than delete.")

    class Meta:
        ordering = ["order", "label"]
        verbose_name = "DfE reason for home education"
        verbose_name_plural = "DfE reasons for home education"

    def __str__(self) -> str:
        return self.label

    @property
    def breakdown(self) -> str:
        return self.dfe_category or self.label


def reason_code_choices() -> list[tuple[str, str]]:
    """The active reasons for a form, in the DfE's order (read when the form is built)."""
    return list(ReasonCode.objects.filter(active=True).values_list("code", "label"))


def reason_code_labels() -> dict[str, str]:
    """Every reason's label by code, retired ones included, for reading stored values back."""
    return dict(ReasonCode.objects.values_list("code", "label"))
