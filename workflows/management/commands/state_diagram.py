from typing import Any

from django.core.management.base import BaseCommand

from workflows.diagram import state_diagram_mermaid


class Command(BaseCommand):
    help = "Print the Episode state diagram (Mermaid), generated from the state machine."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(state_diagram_mermaid())
