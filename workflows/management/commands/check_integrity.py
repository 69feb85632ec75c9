from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ehe_register.models import LocalAuthority
from workflows.integrity import integrity_check


class Command(BaseCommand):
    help = (
        "List every case breaking an invariant of the register (a clock run out with no open escalation, "
        "an escalation whose owner cannot act, an open case with no next action, a safeguarding escalation "
        "on a closed case, a state and dates that disagree), then the total. Changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--la", dest="la_code", metavar="CODE", help="Only this LA (3-digit DfE code).")
        parser.add_argument(
            "--as-of",
            dest="as_of",
            metavar="ISO",
            help="Check as at this time (ISO 8601; a time without a zone is London time). Default: now.",
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
            report = integrity_check(as_of=as_of, la_code=options["la_code"])
        except LocalAuthority.DoesNotExist as error:
            raise CommandError(str(error)) from error
        scope = f"LA {options['la_code']}" if options["la_code"] else "all LAs using the service"
        self.stdout.write(f"Integrity check as of {timezone.localtime(as_of).isoformat()}, {scope}")
        for invariant, problems in report.groups:
            self.stdout.write(f"{invariant.label} [{invariant.value}]: {len(problems)}")
            for problem in problems:
                self.stdout.write(f"  {problem.reference}: {problem.detail}")
        total = report.total
        self.stdout.write(f"{total} problem{'s' if total != 1 else ''}")
