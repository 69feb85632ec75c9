from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ehe_register.demo_data import DEMO_PASSWORD, demo_logins


class Command(BaseCommand):
    help = "Print the service URL and the demonstration sign-ins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("")
        self.stdout.write(f"The EHE register is starting at {options['url']}")
        self.stdout.write(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
        for username, roles in demo_logins():
            self.stdout.write(f"  {username:<32} {roles}")
        self.stdout.write("Press Ctrl-C to stop everything, the database included.")
        self.stdout.write("")
