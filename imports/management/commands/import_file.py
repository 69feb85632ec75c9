"""``manage.py import_file KIND PATH [--dry-run] [--as USER]``: the import pipeline without the web page.

The same steps as the upload page (``imports.services``): the file is checked and previewed,
then (unless ``--dry-run``) confirmed and imported in this process, chunk by chunk, with progress
on stderr. ``--as`` names the user the import is recorded against (an EHE officer or manager: the
LA is theirs).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import override_settings

from ehe_register.accounts.guards import user_may_act_as
from ehe_register.models import User
from imports.formats import FORMATS, BadFile
from imports.models import BatchStatus
from imports.services import IMPORT_ROLES, AlreadyImported, batch_confirm, batch_preview


class Command(BaseCommand):
    help = "Check a file and import it (KIND: " + ", ".join(sorted(FORMATS)) + ")."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=sorted(FORMATS))
        parser.add_argument("path", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="check and count; write nothing")
        parser.add_argument("--as", dest="username", required=True, help="the user the import is recorded against")

    def handle(self, *args: Any, kind: str, path: Path, dry_run: bool, username: str, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user called {username!r}")
        if not user_may_act_as(user, frozenset(IMPORT_ROLES)):
            raise CommandError(f"{username} is not an EHE officer or manager of a local authority")
        if not path.is_file():
            raise CommandError(f"No file at {path}")
        started = time.monotonic()
        try:
            # Checked here, whatever the size: a script waits for its result.
            with path.open("rb") as stream, override_settings(EHE_IMPORT_PREVIEW_INLINE_BYTES=path.stat().st_size):
                batch = batch_preview(
                    user=user, kind=kind, file_name=path.name, chunks=iter(lambda: stream.read(1 << 20), b"")
                )
        except (BadFile, AlreadyImported) as refused:
            raise CommandError(str(refused)) from None
        self._counts("Checked", batch)
        self.stdout.write(f"Preview took {time.monotonic() - started:.1f}s")
        for error in batch.row_errors.all()[:20]:
            self.stdout.write(f"  row {error.row_number}, {error.column or '-'}: {error.message}")
        if dry_run:
            self.stdout.write("Dry run: nothing imported (the batch is kept as a preview).")
            return
        started = time.monotonic()
        # Run here, whatever the size: a script waits for its result.
        with override_settings(EHE_IMPORT_INLINE_ROWS=batch.rows_total):
            batch = batch_confirm(batch_id=batch.pk, user=user)
        seconds = time.monotonic() - started
        self._counts("Imported" if batch.status == BatchStatus.DONE else "Stopped", batch)
        rate = batch.rows_done / seconds if seconds else 0
        self.stdout.write(f"Import took {seconds:.1f}s: {rate:.0f} rows per second")
        if batch.status != BatchStatus.DONE:
            raise CommandError(batch.failure)

    def _counts(self, verb: str, batch: Any) -> None:
        self.stdout.write(
            f"{verb} {batch.rows_total} rows of {batch.file_name} (batch {batch.pk}): "
            f"{batch.new_count} new, {batch.updated_count} updated, {batch.unchanged_count} unchanged, "
            f"{batch.likely_match_count} likely matches, {batch.error_count} errors"
        )
