"""What the imports keep: the history of files brought in (one ``ImportBatch`` per uploaded file,
with its row errors), and ``ColumnMapping``, the format parsers' saved choices of which column of a
council's own spreadsheet feeds which field.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class BatchStatus(models.TextChoices):
    CHECKING = "checking", "Checking the file"
    PREVIEWED = "previewed", "Checked, not imported yet"
    CONFIRMED = "confirmed", "Waiting to start"
    RUNNING = "running", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Stopped with an error"


#: A file in these states has been (or is being) imported: the same file again changes nothing.
TAKEN = (BatchStatus.CONFIRMED, BatchStatus.RUNNING, BatchStatus.DONE)


class ImportBatch(models.Model):
    """One file brought in by one person for one LA.

    States, in order: ``checking`` (a large file being read and checked by a worker: the preview;
    ``rows_total`` is an estimate until it ends), ``previewed`` (the file was read and every row
    checked; nothing written),
    ``confirmed`` (the user confirmed; a worker will start), ``running`` (rows are being written,
    one transaction per chunk; ``rows_done`` of ``rows_total`` so far), ``done`` (every row
    written or reported as an error) or ``failed`` (stopped by an unexpected error; the chunks
    written before it stay, and running it again skips them as unchanged). The counts are the
    preview's until the import runs, then the import's own.
    """

    local_authority = models.ForeignKey("ehe_register.LocalAuthority", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=30)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    stored_as = models.CharField(max_length=300, help_text="The file as uploaded, under EHE_IMPORT_DIR.")
    status = models.CharField(max_length=20, choices=BatchStatus.choices, default=BatchStatus.PREVIEWED)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    new_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    likely_match_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["local_authority", "kind", "sha256"],
                condition=Q(status__in=TAKEN),
                name="import_batch_one_file_taken_once",
            )
        ]
        indexes = [models.Index(fields=["local_authority", "kind", "sha256"], name="import_batch_file")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def percent_done(self) -> int:
        if self.status == BatchStatus.DONE:
            return 100
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else 0

    @property
    def rows_per_second(self) -> float:
        if self.started_at is None or not self.rows_done:
            return 0.0
        seconds = ((self.finished_at or timezone.now()) - self.started_at).total_seconds()
        return round(self.rows_done / seconds, 1) if seconds > 0 else 0.0

    @property
    def in_progress(self) -> bool:
        return self.status in (BatchStatus.CHECKING, BatchStatus.CONFIRMED, BatchStatus.RUNNING)


class ImportRowError(models.Model):
    """A row that was not imported, and why, in plain English. At most ``EHE_IMPORT_ERRORS_KEPT``
    are kept per batch (the batch's ``error_count`` is the true total)."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.PositiveIntegerField()
    column = models.CharField(max_length=100, blank=True)
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["row_number", "pk"]

    def __str__(self) -> str:
        return f"Row {self.row_number}, {self.column}: {self.message}"


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
