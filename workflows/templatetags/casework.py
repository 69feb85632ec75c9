"""Template tags for casework pages: the user's queues with their counts (home pages, queue tabs)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone

from workflows.selectors import queue_counts, queues_for

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
