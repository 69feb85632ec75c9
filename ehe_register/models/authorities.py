"""Local authorities and their per-LA settings (DESIGN section 3 and the thresholds of section 5)."""

from __future__ import annotations

from datetime import time

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class AbsenceCover(models.TextChoices):
    TEAM_QUEUE = "team_queue", "Move the case to the team queue"
    LEAST_LOADED = "least_loaded", "Give the case to the least-loaded available officer"


class LocalAuthority(models.Model):
    """An English local authority, keyed on its DfE code, with the settings its staff manage.

    Every LA in the DfE list is loaded so that notifications can be routed by residence; only
    those with ``uses_service`` switched on have staff and children on this deployment.
    """

    dfe_code = models.CharField("DfE code", max_length=3, unique=True)
    ons_code = models.CharField("ONS code", max_length=9, unique=True)
    name = models.CharField(max_length=120)
    uses_service = models.BooleanField(
        "uses this service", default=False, help_text="Whether this LA's staff and children are on this deployment."
    )

    council_name = models.CharField(
        "council name for the page header", max_length=120, blank=True, help_text="Defaults to the LA's name."
    )
    front_door_name = models.CharField(
        "name of the children's services front door",
        max_length=120,
        default="Children's Single Point of Access (C-SPA)",
    )
    front_door_short_name = models.CharField(max_length=20, default="C-SPA")
    front_door_email = models.EmailField("front door inbox", blank=True)
    front_door_phone = models.CharField("front door phone", max_length=30, blank=True)
    front_door_out_of_hours_phone = models.CharField("out-of-hours phone", max_length=30, blank=True)
    office_opens = models.TimeField(default=time(9, 0))
    office_closes = models.TimeField(default=time(17, 0))
    same_day_cutoff = models.TimeField(
        "same-day cut-off", default=time(16, 0), help_text="Concerns raised after this are due the next working day."
    )
    sen_team_email = models.EmailField("SEN team inbox", blank=True)
    ehe_team_email = models.EmailField("EHE team email", blank=True)
    ehe_team_phone = models.CharField("EHE team phone", max_length=30, blank=True)

    # Thresholds (DESIGN section 5 defaults).
    contacts_unverified_working_days = models.PositiveSmallIntegerField(
        "working days to verify contact details (N)", default=10
    )
    contacts_stale_months = models.PositiveSmallIntegerField("months before verified contacts go stale (M)", default=12)
    first_contact_days = models.PositiveSmallIntegerField("calendar days to first contact (K)", default=15)
    review_warning_working_days = models.PositiveSmallIntegerField(
        "working days before the review date that a review falls due (W)", default=20
    )
    review_interval_months = models.PositiveSmallIntegerField("months between reviews", default=12)
    absence_cover = models.CharField(max_length=20, choices=AbsenceCover.choices, default=AbsenceCover.TEAM_QUEUE)

    # Duties of the Children's Wellbeing and Schools Act 2026, commenced by regulations.
    consent_duty_commenced = models.BooleanField(
        "consent needed for children subject to s47 enquiries or a child protection plan", default=False
    )
    home_check_duty_commenced = models.BooleanField("home check within the first contact period", default=False)

    school_users_need_two_factor = models.BooleanField(
        "two-factor sign-in required for school users",
        default=False,
        help_text="LA staff always need it. Off: school users may set it up, and once set up it is always asked for.",
    )

    retention_until_birthday = models.PositiveSmallIntegerField(
        "keep closed records until the child's birthday",
        default=25,
        validators=[MinValueValidator(16), MaxValueValidator(100)],
        help_text="Which birthday: 25 keeps a child's closed records until they are 25, then anonymises them.",
    )
    school_age_population = models.PositiveIntegerField(
        blank=True,
        null=True,
        help_text="Children of compulsory school age living in the LA, for rates in the DfE return. Blank if unknown.",
    )
    audit_sample_size = models.PositiveSmallIntegerField(
        "cases sampled per officer per month for quality audit",
        default=2,
        help_text="How many of each officer's cases a monthly quality-audit sample draws.",
    )

    class Meta:
        verbose_name = "local authority"
        verbose_name_plural = "local authorities"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.dfe_code})"

    @property
    def header_name(self) -> str:
        return self.council_name or self.name
