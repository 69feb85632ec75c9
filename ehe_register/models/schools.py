"""Schools, loaded from a GIAS extract."""

from __future__ import annotations

from django.db import models


class School(models.Model):
    urn = models.CharField("URN", max_length=6, unique=True)
    local_authority = models.ForeignKey("ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="schools")
    establishment_number = models.CharField(max_length=4)
    name = models.CharField(max_length=200)
    type_name = models.CharField("type of establishment", max_length=120, blank=True)
    phase = models.CharField("phase of education", max_length=60, blank=True)
    is_special = models.BooleanField("special school", default=False)
    postcode = models.CharField(max_length=8, blank=True)
    opened_on = models.DateField(blank=True, null=True)
    closed_on = models.DateField(blank=True, null=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.urn})"

    @property
    def laestab(self) -> str:
        return f"{self.local_authority.dfe_code}{self.establishment_number}"
