from typing import Any

from django.core.management.base import BaseCommand

from ehe_register.services.reference_data import local_authorities_load, reason_codes_load


class Command(BaseCommand):
    help = (
        "Load or refresh reference data: local authorities (fixtures/las.csv), DfE reasons (fixtures/reason_codes.csv)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        created, updated = local_authorities_load()
        self.stdout.write(f"Local authorities: {created} created, {updated} updated.")
        created, updated = reason_codes_load()
        self.stdout.write(f"DfE reasons for home education: {created} created, {updated} updated.")
