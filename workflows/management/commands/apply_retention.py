from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ehe_register.models import LocalAuthority, RetentionTrigger
from workflows.services.retention import CHUNK_SIZE, retention_apply


class Command(BaseCommand):
    help = (
        "Anonymise the records of children past their LA's retention birthday whose cases are all closed, "
        "everywhere they live, except children under a legal hold. --dry-run counts what would change and "
        "changes nothing. The beat runs this at 02:00 on the first day of every month."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would be anonymised; change nothing.")
        parser.add_argument("--la", dest="la_code", metavar="CODE", help="Only this LA (3-digit DfE code).")
        parser.add_argument(
            "--as-of",
            dest="as_of",
            metavar="ISO",
            help="Run as on this day or time (ISO 8601; a time without a zone is London time). Default: now.",
        )
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="Children per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = timezone.now()
        if options["as_of"]:
            try:
                as_of = datetime.fromisoformat(options["as_of"])
            except ValueError as error:
                raise CommandError(f"--as-of: {error}") from error
            if timezone.is_naive(as_of):
                as_of = timezone.make_aware(as_of)
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be 1 or more")
        try:
            result = retention_apply(
                as_of=as_of,
                trigger=RetentionTrigger.COMMAND,
                la_code=options["la_code"],
                dry_run=options["dry_run"],
                chunk_size=options["chunk_size"],
            )
        except LocalAuthority.DoesNotExist as error:
            raise CommandError(str(error)) from error
        day = f"{result.as_of.day} {result.as_of:%B %Y}"
        verb = "would anonymise" if result.dry_run else "anonymised"
        self.stdout.write(f"Retention {'dry run ' if result.dry_run else ''}as of {day}")
        for code in sorted(result.due):
            self.stdout.write(
                f"LA {code}: {result.due[code]} due, {result.held[code]} kept by a legal hold, "
                f"{verb} {_children(result.anonymised[code])} and {_people(result.people[code])}"
            )
        for place, n in sorted(result.rows.items()):
            if n:
                self.stdout.write(f"  {place}: {n} rows")
        total = sum(result.anonymised.values())
        self.stdout.write(f"{verb.capitalize()} {_children(total)}")
        if result.run_id:
            self.stdout.write(f"Logged as retention run {result.run_id}")


def _children(n: int) -> str:
    return f"{n} child{'ren' if n != 1 else ''}"


def _people(n: int) -> str:
    return f"{n} parent{'s' if n != 1 else ''} or carer{'s' if n != 1 else ''}"
