"""What the imports keep between uploads.

``ColumnMapping`` belongs to the format parsers (``imports.formats``); the import history
(``ImportBatch``) is the pipeline's and lives beside it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ColumnMapping(models.Model):
    """Which column of a council's own spreadsheet feeds which field, saved per LA and kind of
    file so that the next upload of the same spreadsheet starts from the same choices.

    ``columns`` maps a field's key (``imports.formats.legacy.LEGACY_FIELDS``) to the column
    heading as the file spells it; a field the council does not keep has no entry.
    """

    class Kind(models.TextChoices):
        LEGACY_REGISTER = "legacy_register", "Existing EHE register"

    local_authority = models.ForeignKey(
        "ehe_register.LocalAuthority", on_delete=models.CASCADE, related_name="column_mappings"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    columns = models.JSONField(default=dict, blank=True)
    saved_at = models.DateTimeField()
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["local_authority", "kind"], name="one_column_mapping_per_la_and_kind")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} columns for {self.local_authority}"
