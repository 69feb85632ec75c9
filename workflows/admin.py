"""Read-only admin views of the workflow's append-only logs (no change or delete path)."""

from django.contrib import admin

from ehe_register.admin import ReadOnlyAdmin
from workflows.models import EscalationEvent, TransitionLog


@admin.register(TransitionLog)
class TransitionLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "episode", "transition", "from_state", "to_state", "actor_name"]
    list_filter = ["transition"]


@admin.register(EscalationEvent)
class EscalationEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "escalation", "kind", "level", "actor_name"]
