from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ehe_register.models import LocalAuthority
from workflows.sweeps import SWEEP_NAMES, SweepBusy, sweep_run

COLUMNS = ("raised", "resolved", "climbed", "moved")


class Command(BaseCommand):
    help = "Run one escalation sweep now and print, per rule, how many it raised, resolved and climbed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Work out the counts and change nothing.")
        parser.add_argument("--la", dest="la_code", metavar="CODE", help="Only this LA (3-digit DfE code).")
        parser.add_argument(
            "--as-of",
            dest="as_of",
            metavar="ISO",
            help="Sweep as at this time (ISO 8601; a time without a zone is London time). Default: now.",
        )
        parser.add_argument(
            "--incremental",
            action="store_true",
            help="As the periodic sweep does: only what has come due since the last sweep (an LA never "
            "swept, or whose settings changed, is swept in full). Default: every rule against every case.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = timezone.now()
        if options["as_of"]:
            try:
                as_of = datetime.fromisoformat(options["as_of"])
            except ValueError as error:
                raise CommandError(f"--as-of: {error}") from error
            if timezone.is_naive(as_of):
                as_of = timezone.make_aware(as_of)
        try:
            counts = sweep_run(
                as_of=as_of,
                la_code=options["la_code"],
                dry_run=options["dry_run"],
                incremental=options["incremental"],
            )
        except LocalAuthority.DoesNotExist as error:
            raise CommandError(str(error)) from error
        except SweepBusy as error:
            raise CommandError(f"{error}; try again in a minute") from error
        scope = f"LA {options['la_code']}" if options["la_code"] else "all LAs"
        dry = " (dry run: nothing was changed)" if options["dry_run"] else ""
        if options["incremental"]:
            scope += ", incremental"
        self.stdout.write(f"Escalation sweep as of {timezone.localtime(as_of).isoformat()}, {scope}{dry}")
        width = max(len(name) for name in SWEEP_NAMES)
        self.stdout.write(f"{'rule':<{width}}  " + "  ".join(f"{c:>8}" for c in COLUMNS))
        for name in SWEEP_NAMES:
            self.stdout.write(f"{name:<{width}}  " + "  ".join(f"{counts[name][c]:>8}" for c in COLUMNS))
        totals = {c: sum(counts[name][c] for name in SWEEP_NAMES) for c in COLUMNS}
        self.stdout.write(f"{'total':<{width}}  " + "  ".join(f"{totals[c]:>8}" for c in COLUMNS))
