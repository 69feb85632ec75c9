"""``manage.py import_file KIND PATH [--dry-run] [--as USER]``: the import pipeline without the web page.

The same steps as the upload page (``imports.services``): the file is checked and previewed,
then (unless ``--dry-run``) confirmed and imported in this process, chunk by chunk, with progress
on stderr; the import reads the rows as the preview checked them moments before
(``imports.services.checked_rows_kept``) and matches and writes them against the register as it
is. ``--as`` names the user the import is recorded against (an EHE officer or manager: the LA is
theirs; ``gias``, the schools list, an EHE manager only). An administrator, who has no LA, may
load the schools list (``gias``): national reference data, loaded and counted by
``imports.formats.gias.gias_apply`` in one transaction, not kept as an LA's import batch.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import override_settings

from ehe_register.accounts.guards import user_may_act_as
from ehe_register.models import User
from ehe_register.roles import Role
from imports.formats import FORMATS, BadFile, format_for, may_import
from imports.formats.gias import gias_apply
from imports.models import BatchStatus
from imports.services import AlreadyImported, batch_confirm, batch_preview, checked_rows_kept


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
        if not path.is_file():
            raise CommandError(f"No file at {path}")
        if (
            kind == "gias"
            and user.local_authority_id is None
            and user_may_act_as(user, frozenset({Role.ADMINISTRATOR}))
        ):
            self._schools_load(path, dry_run=dry_run)
            return
        if not may_import(user, kind):
            who = "an EHE manager" if kind == "gias" else "an EHE officer or manager"
            raise CommandError(
                f"{username} is not {who} of a local authority, so cannot import {format_for(kind).label}"
            )
        # The import, confirmed at once, reads the rows as the preview checked them.
        with nullcontext() if dry_run else checked_rows_kept():
            self._import(kind, path, user, dry_run=dry_run)

    def _import(self, kind: str, path: Path, user: User, *, dry_run: bool) -> None:
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

    def _schools_load(self, path: Path, *, dry_run: bool) -> None:
        started = time.monotonic()
        try:
            with path.open("rb") as stream:
                counts = gias_apply(stream, dry_run=dry_run)
        except BadFile as refused:
            raise CommandError(str(refused)) from None
        verb = "Checked (dry run: nothing written)" if dry_run else "Loaded"
        self.stdout.write(
            f"{verb} {counts.rows} rows of {path.name}: {counts.created} new schools, {counts.updated} updated, "
            f"{counts.unchanged} unchanged, {counts.skipped} skipped (LA not on the register), "
            f"{len(counts.errors)} errors; {counts.closed} closed, {counts.special} special"
        )
        for error in counts.errors[:20]:
            self.stdout.write(f"  row {error.row}, {error.column}: {error.message}")
        self.stdout.write(f"Took {time.monotonic() - started:.1f}s")

    def _counts(self, verb: str, batch: Any) -> None:
        self.stdout.write(
            f"{verb} {batch.rows_total} rows of {batch.file_name} (batch {batch.pk}): "
            f"{batch.new_count} new, {batch.updated_count} updated, {batch.unchanged_count} unchanged, "
            f"{batch.likely_match_count} likely matches, {batch.error_count} errors"
        )
