"""Template tags for casework pages: the user's queues with their counts (home pages, queue tabs),
their escalations, and moments written as GOV.UK writes them."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone

from ehe_register.roles import Role
from workflows.selectors import escalation_row, escalations_for, queue_counts, queues_for

register = template.Library()


@register.simple_tag(takes_context=True)
def queue_links(context: template.Context) -> list[dict[str, Any]]:
    """The signed-in user's queues, each with its count and URL (one or two queries in all)."""
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return []
    now = timezone.now()
    counts = queue_counts(user, today=timezone.localdate(now), now=now)
    return [
        {"queue": queue, "count": counts.get(queue.slug, 0), "url": reverse("cases:queue", kwargs={"slug": queue.slug})}
        for queue in queues_for(user)
    ]


@register.filter
def words(value: object) -> str:
    """A stored code as words: "passed_to_social_care" -> "passed to social care"."""
    return str(value or "").replace("_", " ")


@register.filter
def when(value: Any) -> str:
    """A moment as GOV.UK writes it: "3 March 2026 at 4pm", "at 4:30pm", "at midday"."""
    if not value:
        return ""
    local = timezone.localtime(value)
    if (local.hour, local.minute) == (12, 0):
        clock = "midday"
    elif (local.hour, local.minute) == (0, 0):
        clock = "midnight"
    else:
        hour = local.hour % 12 or 12
        clock = f"{hour}{f':{local.minute:02d}' if local.minute else ''}{'am' if local.hour < 12 else 'pm'}"
    return f"{local.day} {local:%B %Y} at {clock}"


ESCALATIONS_ON_HOME = 10


@register.simple_tag(takes_context=True)
def escalations_for_you(context: template.Context) -> dict[str, Any]:
    """The signed-in user's open escalations for their home page: the first few, oldest due
    first, with how many there are in all (two queries)."""
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return {"rows": [], "total": 0}
    escalations = escalations_for(user)
    now = timezone.now()
    rows = [escalation_row(e, now) for e in escalations[:ESCALATIONS_ON_HOME]]
    total = len(rows) if len(rows) < ESCALATIONS_ON_HOME else escalations.count()
    return {"rows": rows, "total": total, "url": reverse("cases:escalations")}


@register.filter
def role_label(value: object) -> str:
    """A stored role name in words: "cspa_duty_worker" -> "Front door duty worker"."""
    try:
        return Role(str(value)).label
    except ValueError:
        return str(value or "").replace("_", " ")
