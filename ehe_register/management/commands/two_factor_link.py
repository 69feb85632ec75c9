"""Issue a one-time two-factor enrolment link from the command line.

For the first administrator of an installation (no one can issue them a link in the service
yet) and for an administrator who lost their own phone. ``--reset`` removes the person's
authenticator and backup codes first. Logged with no acting user ("Command line").
"""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from ehe_register.accounts.two_factor import enrolment_link_issue, two_factor_reset
from ehe_register.models import User


class Command(BaseCommand):
    help = "Print a one-time link with which USERNAME can set up two-factor sign-in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--reset", action="store_true", help="Remove their authenticator and backup codes first.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        try:
            if options["reset"]:
                token = two_factor_reset(user=user, actor=None)
            else:
                token = enrolment_link_issue(user=user, issued_by=None)
        except ValueError as refused:
            raise CommandError(f"{refused} (use --reset).") from refused
        path = reverse("accounts:enrol", kwargs={"token": token})
        self.stdout.write(f"{settings.EHE_BASE_URL.rstrip('/')}{path}")
        self.stdout.write(
            f"It works once, within {settings.EHE_ENROLMENT_LINK_HOURS} hours, with {user.username}'s password."
        )
