"""Children, their parents and carers, and their addresses with the checks made on them.

Every row belongs to one LA: the LA where the child lives. Two LAs never share a child row; a
move between LAs is a recorded transfer that creates a new row in the receiving LA.
"""

from __future__ import annotations

import pghistory
from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import F, Func, Value
from django.db.models.functions import Upper


class Sex(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"
    NOT_KNOWN = "U", "Not known"


class SenStatus(models.TextChoices):
    NONE = "none", "No special educational needs"
    SEN_SUPPORT = "sen_support", "SEN support"
    EHCP = "ehcp", "Education, health and care plan (EHCP)"


class SocialCareStatus(models.TextChoices):
    NONE = "none", "Not known to social care"
    CHILD_IN_NEED = "child_in_need", "Child in need"
    CHILD_PROTECTION_PLAN = "child_protection_plan", "Child protection plan"
    LOOKED_AFTER = "looked_after", "Looked after child"
    S47_OPEN = "s47_open", "Section 47 enquiry open"

    @classmethod
    def safeguarding_triggers(cls) -> frozenset[str]:
        """Statuses that send a new case to the front door first (DESIGN section 4)."""
        return frozenset({cls.CHILD_IN_NEED, cls.CHILD_PROTECTION_PLAN, cls.LOOKED_AFTER, cls.S47_OPEN})


#: Year groups a school can give on its notification ("" when it did not say).
SCHOOL_YEAR_GROUPS = [
    ("reception", "Reception"),
    *[(str(year), f"Year {year}") for year in range(1, 12)],
    ("other", "Other"),
]


def school_year_group_number(value: str) -> int | None:
    """A school's year group as ``validators.year_group`` counts it (Reception 0), or None for
    "other" or nothing given."""
    if value == "reception":
        return 0
    return int(value) if value.isdigit() else None


# History rows are append-only: only the retention service may change them (it anonymises them).
@pghistory.track(append_only=True)
class Child(models.Model):
    local_authority = models.ForeignKey(
        "ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="children"
    )
    legal_first_name = models.CharField(max_length=100)
    legal_middle_names = models.CharField(max_length=200, blank=True)
    legal_last_name = models.CharField(max_length=100)
    preferred_first_name = models.CharField(max_length=100, blank=True)
    preferred_last_name = models.CharField(max_length=100, blank=True)
    former_names = models.JSONField(default=list, blank=True, help_text="Earlier names, newest first.")
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.NOT_KNOWN)
    upn = models.CharField("UPN", max_length=13, blank=True)
    former_upns = models.JSONField(default=list, blank=True, help_text="Temporary or replaced UPNs.")
    nhs_number = models.CharField("NHS number", max_length=10, blank=True)
    sen_status = models.CharField("SEN status", max_length=20, choices=SenStatus.choices, default=SenStatus.NONE)
    social_care_status = models.CharField(
        max_length=30, choices=SocialCareStatus.choices, default=SocialCareStatus.NONE
    )
    social_worker_email = models.EmailField("allocated social worker's email", blank=True)
    confidential_address = models.BooleanField(
        default=False, help_text="Refuge or domestic abuse: never shown to schools; masked in lists and exports."
    )
    interpreter_needed = models.BooleanField(default=False)
    language = models.CharField(max_length=60, blank=True)
    contact_preferences = models.CharField(max_length=200, blank=True)
    # The year group the school gave (the latest notification), beside the one the date of birth
    # gives for the same day: a disagreement (a child taught out of year group, or a wrong date of
    # birth) is shown to the officer, never resolved silently.
    school_year_group = models.CharField(
        "year group the school gave", max_length=20, choices=SCHOOL_YEAR_GROUPS, blank=True
    )
    school_year_group_on = models.DateField("day the school gave the year group", blank=True, null=True)
    derived_year_group = models.SmallIntegerField(
        "year group from the date of birth on that day",
        blank=True,
        null=True,
        help_text="0 is Reception; negative is nursery.",
    )
    # Set by the retention service when it anonymised the record (never cleared).
    anonymised_at = models.DateTimeField(blank=True, null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "children"
        constraints = [
            models.UniqueConstraint(
                fields=["local_authority", "upn"], condition=~models.Q(upn=""), name="child_upn_unique_in_la"
            ),
        ]
        indexes = [
            models.Index(fields=["local_authority", "date_of_birth"]),
            models.Index(fields=["upn"]),
            GinIndex(fields=["former_upns"], name="child_former_upns_gin"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def first_name(self) -> str:
        return self.preferred_first_name or self.legal_first_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.preferred_last_name or self.legal_last_name}"

    @property
    def legal_name(self) -> str:
        return " ".join(p for p in [self.legal_first_name, self.legal_middle_names, self.legal_last_name] if p)

    @property
    def year_groups_disagree(self) -> bool:
        """Whether the school's year group differs from the one the date of birth gave on that day.

        "Other" disagrees with a Reception to Year 11 child: it says the school taught them out of
        the usual groups.
        """
        if not self.school_year_group or self.derived_year_group is None:
            return False
        given = school_year_group_number(self.school_year_group)
        if given is None:
            return 0 <= self.derived_year_group <= 11
        return given != self.derived_year_group


class Relationship(models.TextChoices):
    MOTHER = "mother", "Mother"
    FATHER = "father", "Father"
    STEP_PARENT = "step_parent", "Step-parent"
    GRANDPARENT = "grandparent", "Grandparent"
    FOSTER_CARER = "foster_carer", "Foster carer"
    KINSHIP_CARER = "kinship_carer", "Kinship carer"
    OTHER = "other", "Other"


def _phone_digits(field_name: str) -> Func:
    """A phone number's digits: the expression ``services.children.person_match`` compares."""
    return Func(F(field_name), Value(r"[^0-9]"), Value(""), Value("g"), function="regexp_replace")


@pghistory.track(append_only=True)
class Person(models.Model):
    """A parent or carer. Linked to children through :class:`ChildPerson`; siblings share people."""

    local_authority = models.ForeignKey("ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="people")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    emergency_phone = models.CharField(max_length=20, blank=True)
    other_phone = models.CharField(max_length=20, blank=True)
    email = models.EmailField(blank=True)
    # The person's own address when it is not the child's home address (regulation 13 asks for
    # each parent's address); blank means they live at the child's current address.
    address_line_1 = models.CharField("address line 1", max_length=200, blank=True)
    address_line_2 = models.CharField("address line 2", max_length=200, blank=True)
    address_town = models.CharField("town or city", max_length=100, blank=True)
    postcode = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "parent or carer"
        verbose_name_plural = "parents and carers"
        # What ``services.children.person_match`` looks a parent up by, within the LA: the digits
        # of either phone number (the same ``regexp_replace`` expression as the query's, or
        # PostgreSQL cannot use the index) and the email address ignoring case. Without them a
        # school's submission read every person of the LA.
        indexes = [
            models.Index(F("local_authority"), _phone_digits("emergency_phone"), name="person_la_phone"),
            models.Index(F("local_authority"), _phone_digits("other_phone"), name="person_la_other_phone"),
            models.Index(F("local_authority"), Upper("email"), name="person_la_email"),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def own_address_lines(self) -> list[str]:
        """The person's own address, one line each; empty when they live at the child's address."""
        return [p for p in (self.address_line_1, self.address_line_2, self.address_town, self.postcode) if p]


class ChildPerson(models.Model):
    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="carer_links")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="child_links")
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    parental_responsibility = models.BooleanField(default=True)
    lives_with_child = models.BooleanField(default=True)
    is_educating_parent = models.BooleanField(default=False)
    educating_hours_per_week = models.DecimalField(max_digits=4, decimal_places=1, blank=True, null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["child", "person"], name="child_person_unique")]

    def __str__(self) -> str:
        return f"{self.person} ({self.get_relationship_display()}) of {self.child}"


class AddressKind(models.TextChoices):
    CURRENT = "current", "Current"
    PREVIOUS = "previous", "Previous"
    ADDITIONAL = "additional", "Additional"


@pghistory.track(append_only=True)
class Address(models.Model):
    local_authority = models.ForeignKey("ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="+")
    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(max_length=20, choices=AddressKind.choices, default=AddressKind.CURRENT)
    line_1 = models.CharField("address line 1", max_length=200)
    line_2 = models.CharField("address line 2", max_length=200, blank=True)
    town = models.CharField("town or city", max_length=100, blank=True)
    county = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=8)
    uprn = models.CharField("UPRN", max_length=12, blank=True)
    valid_from = models.DateField(blank=True, null=True)
    valid_to = models.DateField(blank=True, null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["child"], condition=models.Q(kind="current"), name="one_current_address_per_child"
            ),
        ]
        indexes = [
            models.Index(fields=["local_authority", "postcode"]),
            # Matching looks for current addresses by postcode ignoring case (``postcode__iexact``).
            models.Index(
                F("local_authority"),
                Upper("postcode"),
                condition=models.Q(kind="current"),
                name="address_la_postcode_ci",
            ),
        ]

    def __str__(self) -> str:
        return ", ".join(p for p in [self.line_1, self.line_2, self.town, self.postcode] if p)


class CheckMethod(models.TextChoices):
    FAMILY = "family", "With the family"
    SCHOOL = "school", "With the school"
    HOME_VISIT = "home_visit", "Home visit"
    OTHER_AGENCY = "other_agency", "Another agency's record"


class CheckOutcome(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    CHANGED = "changed", "Changed"
    COULD_NOT_CONFIRM = "could_not_confirm", "Could not confirm"


class AddressCheck(models.Model):
    """Who confirmed a child's address and contact details, when, how, and with what outcome."""

    address = models.ForeignKey(Address, on_delete=models.CASCADE, related_name="checks")
    episode = models.ForeignKey("workflows.Episode", on_delete=models.CASCADE, related_name="address_checks")
    method = models.CharField(max_length=20, choices=CheckMethod.choices)
    outcome = models.CharField(max_length=20, choices=CheckOutcome.choices)
    school = models.ForeignKey("ehe_register.School", on_delete=models.PROTECT, blank=True, null=True)
    checked_at = models.DateTimeField()
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-checked_at"]
        indexes = [models.Index(fields=["episode", "checked_at"])]

    def __str__(self) -> str:
        return f"{self.get_method_display()}: {self.get_outcome_display()}"
