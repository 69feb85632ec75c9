from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ehe_register.demo_data import demo_seed


class Command(BaseCommand):
    help = "Build the demonstration data (development only). Running it again changes nothing."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo creates accounts with a published password: it never runs in production.")
        demo_seed()
        self.stdout.write("Demo data ready.")
