"""The import pipeline, the same for every format (``imports.formats``).

1. ``batch_preview``: store the upload (refusing one over ``EHE_IMPORT_MAX_BYTES`` or with the
   wrong ending), hash it, and refuse a file already imported for the LA (same kind, same SHA-256).
   Read every row, check it with the format's validators and classify it against the register
   with set-based reads; keep the counts and the row errors. Nothing is written to the register.
   A file that cannot be read at all (``BadFile``) leaves no trace but the message. A file over
   ``EHE_IMPORT_PREVIEW_INLINE_BYTES`` is checked the same way by the Celery task
   ``imports.batch_check`` (``batch_check``), with progress; the batch is ``checking`` meanwhile,
   and a file that cannot be read ends ``failed`` with the message.
2. ``batch_confirm``: the user confirms; a file of up to ``EHE_IMPORT_INLINE_ROWS`` rows is
   imported at once, a larger one by the Celery task ``imports.batch_run`` (queued on commit).
3. ``batch_run``: read the file again, check every row again (the register may have changed),
   and write valid rows in chunks of ``EHE_IMPORT_CHUNK_ROWS``, one transaction per chunk,
   recording progress (rows done, rows per second) after each. Safe to run twice: a finished
   batch is left alone, and rows already written are unchanged the second time.

A caller that confirms right after the preview, in the same process (``manage.py import_file``),
wraps both in ``checked_rows_kept()``: the preview keeps every row as it checked it (pickled, in a
temporary file), and ``batch_run`` reads them back instead of checking each row with the form a
second time, when it runs the same day for the same user (what a row's check depends on besides
the file), for a format that says its checked rows can be kept (``checked_rows_reusable``: its
``write`` needs nothing but the records, not their identity nor what ``to_record`` left in the
context). Matching and everything written are still worked out against the register at the time
of writing, chunk by chunk, as always.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, reset_queries, transaction
from django.utils import timezone

from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role
from ehe_register.services.matching import name_keys_remembered
from imports.formats import BadFile, ImportContext, Outcome, RowError, format_for, may_import
from imports.formats.tabular import check_extension
from imports.models import TAKEN, BatchStatus, ImportBatch, ImportRowError
from workflows.sweeps import statistics_refresh

logger = logging.getLogger(__name__)

#: Who may import files for their LA.
IMPORT_ROLES = (Role.EHE_OFFICER, Role.EHE_MANAGER)

COUNT_FIELDS = {
    Outcome.NEW: "new_count",
    Outcome.UPDATED: "updated_count",
    Outcome.UNCHANGED: "unchanged_count",
    Outcome.LIKELY_MATCH: "likely_match_count",
    Outcome.ERROR: "error_count",
}


@dataclass
class AlreadyImported(Exception):
    """This file was imported before for the LA: importing it again would change nothing."""

    batch: ImportBatch

    def __str__(self) -> str:
        when = timezone.localtime(self.batch.uploaded_at)
        return (
            f"This file was already imported on {when.day} {when:%B %Y} at {when:%H:%M} "
            f"({self.batch.file_name}). Importing it again would change nothing."
        )


@dataclass
class _Kept:
    """A preview's checked rows, chunk by chunk, and what their check depended on."""

    file: IO[bytes]
    user_id: int
    today: date


_KEPT: ContextVar[dict[int, _Kept] | None] = ContextVar("imports_checked_rows_kept", default=None)


@contextmanager
def checked_rows_kept() -> Iterator[None]:
    """Within this block (this process), a preview checked inline keeps its checked rows for the
    ``batch_run`` of the same batch (see the module's docstring); the files go at the end."""
    kept: dict[int, _Kept] = {}
    token = _KEPT.set(kept)
    try:
        yield
    finally:
        _KEPT.reset(token)
        for entry in kept.values():
            entry.file.close()


def _kept_chunks(batch: ImportBatch, context: ImportContext) -> Iterator[list[tuple[int, Any]]] | None:
    """The preview's checked rows of this batch, once, if they were kept and still hold: checked
    for the same user on the same day. None otherwise (the run checks every row itself)."""
    kept = _KEPT.get()
    entry = kept.pop(batch.pk, None) if kept is not None else None
    if entry is None:
        return None
    if entry.user_id != context.user.pk or entry.today != context.today:
        entry.file.close()
        return None

    def chunks() -> Iterator[list[tuple[int, Any]]]:
        with entry.file:
            entry.file.seek(0)
            while True:
                try:
                    yield pickle.load(entry.file)  # noqa: S301 - written by this process, just now
                except EOFError:
                    return

    return chunks()


def import_dir() -> Path:
    path = Path(settings.EHE_IMPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _store(chunks: Iterator[bytes], suffix: str) -> tuple[Path, str, int]:
    """Write the upload to a file of its own, hashing as it goes; refuse it once over the limit."""
    limit = settings.EHE_IMPORT_MAX_BYTES
    digest = hashlib.sha256()
    size = 0
    temporary = import_dir() / f"upload-{timezone.now():%Y%m%d%H%M%S%f}{suffix}"
    with temporary.open("wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                out.close()
                temporary.unlink(missing_ok=True)
                raise BadFile(f"The file is larger than {limit // (1024 * 1024)} MB. Split it into smaller files.")
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        temporary.unlink(missing_ok=True)
        raise BadFile("The file is empty.")
    sha = digest.hexdigest()
    final = import_dir() / f"{sha}{suffix}"
    temporary.replace(final)
    return final, sha, size


def upload_keep(*, kind: str, file_name: str, chunks: Iterator[bytes]) -> Path:
    """Keep an upload (the ending and size limit checked) before its preview: the existing
    register's column step reads its headings first. ``batch_preview`` stores it again by hash."""
    extension = check_extension(file_name, format_for(kind).extensions)
    return _store(chunks, extension)[0]


def batch_preview(
    *, user: User, kind: str, file_name: str, chunks: Iterator[bytes], as_of: datetime | None = None
) -> ImportBatch:
    """Check a file without writing to the register: an ImportBatch with the preview's counts and
    row errors. Raises BadFile (nothing kept) or AlreadyImported.

    A file of up to ``EHE_IMPORT_PREVIEW_INLINE_BYTES`` is checked here, in the request. A larger
    one is left to the Celery task ``imports.batch_check`` (queued on commit): the batch comes
    back ``checking``, with progress as the rows are read, and becomes ``previewed`` when every
    row has been checked (or ``failed``, with the message, when the file cannot be read)."""
    from imports.tasks import batch_check as batch_check_task

    fmt = format_for(kind)
    as_of = as_of or timezone.now()
    extension = check_extension(file_name, fmt.extensions)
    if user.local_authority_id is None:
        raise BadFile("Only a user of a local authority can import files.")
    if not may_import(user, kind):
        raise BadFile(f"You cannot import files of {fmt.label}.")
    la = LocalAuthority.objects.get(pk=user.local_authority_id)
    path, sha, size = _store(chunks, extension)
    earlier = ImportBatch.objects.filter(local_authority=la, kind=kind, sha256=sha, status__in=TAKEN).first()
    if earlier is not None:
        raise AlreadyImported(earlier)
    batch = ImportBatch(
        local_authority=la,
        kind=kind,
        uploaded_by=user,
        uploaded_at=as_of,
        file_name=Path(file_name).name[:255],
        sha256=sha,
        size_bytes=size,
        stored_as=path.name,
    )
    if size > settings.EHE_IMPORT_PREVIEW_INLINE_BYTES:
        with transaction.atomic():
            batch.status = BatchStatus.CHECKING
            batch.save()
            transaction.on_commit(lambda: batch_check_task.delay(batch.pk))
        return batch
    context = ImportContext(local_authority=la, user=user, as_of=as_of, file_name=batch.file_name)
    kept = _KEPT.get()
    # Open past this call when kept: batch_run reads it, checked_rows_kept closes it.
    reusable = kept is not None and getattr(fmt, "checked_rows_reusable", False)
    keep = tempfile.TemporaryFile(dir=import_dir()) if reusable else None  # noqa: SIM115
    try:
        counts, errors = _check(fmt, batch, context=context, keep=keep)
        with transaction.atomic():
            _counts_set(batch, counts)
            batch.save()
            _errors_store(batch, errors)
    except BaseException:
        if keep is not None:
            keep.close()
        raise
    if kept is not None and keep is not None:
        kept[batch.pk] = _Kept(file=keep, user_id=user.pk, today=context.today)
    return batch


def batch_check(*, batch_id: int) -> ImportBatch:
    """The preview of a large file, by a worker (see ``batch_preview``). Safe to run twice: a batch
    no longer ``checking`` is left alone."""
    batch = ImportBatch.objects.select_related("local_authority", "uploaded_by").get(pk=batch_id)
    if batch.status != BatchStatus.CHECKING:
        return batch
    ImportBatch.objects.filter(pk=batch.pk).update(started_at=timezone.now(), rows_done=0)
    context = ImportContext(
        local_authority=batch.local_authority,
        user=batch.uploaded_by,
        as_of=batch.uploaded_at,
        file_name=batch.file_name,
    )
    try:
        counts, errors = _check(format_for(batch.kind), batch, context=context, progress=True)
    except Exception as error:
        logger.exception("Checking import batch %s stopped", batch.pk)
        message = str(error) if isinstance(error, BadFile) else "An unexpected error stopped the check of the file."
        ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.CHECKING).update(
            status=BatchStatus.FAILED, finished_at=timezone.now(), failure=f"{message} Nothing was imported."
        )
        batch.refresh_from_db()
        return batch
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != BatchStatus.CHECKING:
            return batch
        batch.status = BatchStatus.PREVIEWED
        batch.started_at = None
        batch.rows_done = 0
        _counts_set(batch, counts)
        batch.save()
        _errors_store(batch, errors)
    return batch


def _check(
    fmt: Any, batch: ImportBatch, *, context: ImportContext, progress: bool = False, keep: IO[bytes] | None = None
) -> tuple[Counter[Outcome], list[RowError]]:
    """Read the batch's file and check every row: the counts of what it would do and the first
    row errors. With ``progress``, the rows read so far are recorded after each chunk, against
    a total estimated from the bytes read (the number of rows is known only at the end). With
    ``keep``, each chunk of checked rows is pickled to it (``checked_rows_kept``)."""
    counts: Counter[Outcome] = Counter()
    errors: list[RowError] = []
    extension = Path(batch.stored_as).suffix
    done = 0
    with (import_dir() / batch.stored_as).open("rb") as stream, name_keys_remembered():
        for chunk in _checked_chunks(fmt, stream, extension, context):
            valid = [(n, r) for n, r in chunk if not isinstance(r, list)]
            for _, result in chunk:
                if isinstance(result, list):
                    counts[Outcome.ERROR] += 1
                    _keep(errors, result)
            counts.update(fmt.classify(valid, context=context) if valid else [])
            if keep is not None:
                pickle.dump(chunk, keep, protocol=pickle.HIGHEST_PROTOCOL)
            done += len(chunk)
            reset_queries()
            if progress:  # a CSV file is read in order, so its bytes say how far it has gone
                read = max(stream.tell(), 1) if extension == ".csv" else 0
                estimate = max(done, round(done * batch.size_bytes / read)) if read else 0
                ImportBatch.objects.filter(pk=batch.pk).update(rows_done=done, rows_total=estimate)
    return counts, errors


def _counts_set(batch: ImportBatch, counts: Counter[Outcome]) -> None:
    batch.rows_total = sum(counts.values())
    for outcome, field in COUNT_FIELDS.items():
        setattr(batch, field, counts.get(outcome, 0))


def _checked_chunks(
    fmt: Any, stream: IO[bytes], extension: str, context: ImportContext
) -> Iterator[list[tuple[int, Any]]]:
    """The file's rows, each checked (a record or its errors), in chunks."""
    size = settings.EHE_IMPORT_CHUNK_ROWS
    chunk: list[tuple[int, Any]] = []
    for number, row in fmt.rows(stream, extension=extension, context=context):
        chunk.append((number, fmt.to_record(number, row, context=context)))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _keep(kept: list[RowError], more: list[RowError]) -> None:
    room = settings.EHE_IMPORT_ERRORS_KEPT - len(kept)
    if room > 0:
        kept.extend(more[:room])


def _errors_store(batch: ImportBatch, errors: list[RowError]) -> None:
    batch.row_errors.all().delete()
    ImportRowError.objects.bulk_create(
        [ImportRowError(batch=batch, row_number=e.row, column=e.column[:100], message=e.message[:500]) for e in errors]
    )


def batch_confirm(*, batch_id: int, user: User) -> ImportBatch:
    """Start the import the user has seen the preview of: at once for a small file, else by a worker."""
    from imports.tasks import batch_run as batch_run_task

    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch_id, local_authority_id=user.local_authority_id)
        if batch.status != BatchStatus.PREVIEWED:
            return batch
        batch.status = BatchStatus.CONFIRMED
        batch.confirmed_by = user
        batch.confirmed_at = timezone.now()
        try:
            with transaction.atomic():
                batch.save(update_fields=["status", "confirmed_by", "confirmed_at"])
        except IntegrityError:
            earlier = ImportBatch.objects.filter(
                local_authority_id=batch.local_authority_id, kind=batch.kind, sha256=batch.sha256, status__in=TAKEN
            ).first()
            raise AlreadyImported(earlier or batch) from None
        inline = batch.rows_total <= settings.EHE_IMPORT_INLINE_ROWS
        if not inline:
            transaction.on_commit(lambda: batch_run_task.delay(batch.pk))
    if inline:
        batch_run(batch_id=batch.pk)
        batch.refresh_from_db()
    return batch


# The tables an import writes, whose planner statistics the pages and the sweep depend on.
IMPORTED_TABLES = (
    "ehe_register_child",
    "ehe_register_person",
    "ehe_register_childperson",
    "ehe_register_address",
    "ehe_register_offrollnotification",
    "workflows_episode",
    "workflows_transitionlog",
    "workflows_escalation",
    "notifications_message",
)


def batch_run(*, batch_id: int) -> ImportBatch:
    """Import a confirmed batch (see the module's docstring). Returns the batch as it ends."""
    with transaction.atomic():
        batch = (
            ImportBatch.objects.select_for_update(of=("self",))
            .select_related("local_authority", "confirmed_by", "uploaded_by")
            .get(pk=batch_id)
        )
        if batch.status not in (BatchStatus.CONFIRMED, BatchStatus.RUNNING, BatchStatus.FAILED):
            return batch
        batch.status = BatchStatus.RUNNING
        batch.started_at = timezone.now()
        batch.finished_at = None
        batch.rows_done = 0
        batch.failure = ""
        batch.save(update_fields=["status", "started_at", "finished_at", "rows_done", "failure"])
    fmt = format_for(batch.kind)
    user = batch.confirmed_by or batch.uploaded_by
    context = ImportContext(
        local_authority=batch.local_authority, user=user, as_of=timezone.now(), file_name=batch.file_name
    )
    counts: Counter[Outcome] = Counter()
    errors: list[RowError] = []
    done = 0
    refreshed_at = 0  # rows done when the planner statistics were last looked at
    try:
        # Each chunk is matched against the register as it then is; the names' keys, which
        # depend on nothing but the names, are worked out once for the whole run.
        with (import_dir() / batch.stored_as).open("rb") as stream, name_keys_remembered():
            extension = Path(batch.stored_as).suffix
            chunks = _kept_chunks(batch, context) or _checked_chunks(fmt, stream, extension, context)
            for chunk in chunks:
                valid = [(n, r) for n, r in chunk if not isinstance(r, list)]
                for _, result in chunk:
                    if isinstance(result, list):
                        counts[Outcome.ERROR] += 1
                        _keep(errors, result)
                context.as_of = timezone.now()
                with transaction.atomic():
                    counts.update(fmt.write(valid, context=context) if valid else [])
                done += len(chunk)
                ImportBatch.objects.filter(pk=batch.pk).update(rows_done=done)
                reset_queries()  # with DEBUG on, Django keeps every statement (9,000 of up to 100 kB)
                # A large import changes the register's shape: plans made on the old figures
                # (an empty table's, say) turn a queue page's join into minutes of nested loops.
                # Looked at after the first chunk and then each time the rows done have doubled
                # (never more than twice as many rows as the figures know of), and at the end:
                # ANALYZE after every chunk cost more than writing the chunk.
                if refreshed_at == 0 or done >= 2 * refreshed_at:
                    statistics_refresh(IMPORTED_TABLES)
                    refreshed_at = done
        if done != refreshed_at:
            statistics_refresh(IMPORTED_TABLES)
    except Exception as error:  # the chunks written stay; the batch says where it stopped
        logger.exception("Import batch %s stopped", batch.pk)
        message = str(error) if isinstance(error, BadFile) else "An unexpected error stopped the import."
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.FAILED, finished_at=timezone.now(), failure=f"{message} {done} rows were imported."
        )
        batch.refresh_from_db()
        return batch
    with transaction.atomic():
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.DONE,
            finished_at=timezone.now(),
            rows_done=done,
            rows_total=done,
            **{field: counts.get(outcome, 0) for outcome, field in COUNT_FIELDS.items()},
        )
        _errors_store(batch, errors)
    batch.refresh_from_db()
    return batch


def batch_progress(batch: ImportBatch) -> dict[str, Any]:
    """What the progress bar shows, as JSON."""
    return {
        "status": batch.status,
        "status_label": batch.get_status_display(),
        "rows_done": batch.rows_done,
        "rows_total": batch.rows_total,
        "percent": batch.percent_done,
        "rows_per_second": batch.rows_per_second,
        "finished": batch.status in (BatchStatus.PREVIEWED, BatchStatus.DONE, BatchStatus.FAILED),
    }
