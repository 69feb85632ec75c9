"""The LA's requests to a child's last school to say what address and contacts it holds.

The school answers with what it holds; the product compares that with the LA's current address
and records the school's :class:`~ehe_register.models.AddressCheck`. The school is never shown
the LA's address: the request carries only the child's name and date of birth.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ehe_register.models.children import CheckOutcome


class SchoolContactRequest(models.Model):
    """One request to one school about one case. Open until the school answers it.

    ``outcome`` is the outcome of the school's check (confirmed when the school's postcode and
    first address line match the LA's current address, could not confirm otherwise); blank while
    the request waits for the school.
    """

    episode = models.ForeignKey("workflows.Episode", on_delete=models.PROTECT, related_name="school_contact_requests")
    school = models.ForeignKey("ehe_register.School", on_delete=models.PROTECT, related_name="contact_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, blank=True, null=True, related_name="+"
    )
    answered_at = models.DateTimeField(blank=True, null=True)
    answered_line_1 = models.CharField("address line 1", max_length=200, blank=True)
    answered_line_2 = models.CharField("address line 2", max_length=200, blank=True)
    answered_town = models.CharField("town or city", max_length=100, blank=True)
    answered_postcode = models.CharField("postcode", max_length=8, blank=True)
    answered_phone = models.CharField("parent's phone", max_length=20, blank=True)
    outcome = models.CharField(max_length=20, choices=CheckOutcome.choices, blank=True)
    address_check = models.OneToOneField(
        "ehe_register.AddressCheck", on_delete=models.PROTECT, blank=True, null=True, related_name="school_request"
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # Asking a school twice before it answers would only give it two forms to fill in.
            models.UniqueConstraint(
                fields=["episode", "school"],
                condition=models.Q(answered_at__isnull=True),
                name="one_open_school_request",
            ),
        ]
        indexes = [models.Index(fields=["school", "answered_at"])]

    def __str__(self) -> str:
        return f"Request to {self.school} about episode {self.episode_id}"

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None
