"""The managers' morning digest: what is open, overdue and moved, by case reference only."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q

from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON, at_local, is_working_day
from notifications.models import Channel
from notifications.services import message_enqueue
from workflows.escalation_rules import RULES
from workflows.models import Episode, Escalation, EscalationEvent

DIGEST_TIME = time(7, 30)
DIGEST_OVERDUE_LISTED = 20


def _previous_working_day(day: Any) -> Any:
    day -= timedelta(days=1)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def managers_digest_send(*, as_of: datetime, la_code: str | None = None) -> int:
    """Each EHE manager's morning email: open escalations by rule and level, what is overdue, and
    what happened since the last digest (the previous working day's). None on a non-working day
    (the beat runs Monday to Friday; this skips bank holidays). Returns how many were written.

    Case references only: no child's name or details.
    """
    today = as_of.astimezone(LONDON).date()
    if not is_working_day(today):
        return 0
    since = at_local(_previous_working_day(today), DIGEST_TIME)
    authorities = LocalAuthority.objects.filter(uses_service=True)
    if la_code:
        authorities = authorities.filter(dfe_code=la_code)
    written = 0
    with transaction.atomic():
        for la in authorities.order_by("dfe_code"):
            managers = list(
                User.objects.filter(local_authority=la, groups__name=Role.EHE_MANAGER, is_active=True)
                .exclude(email="")
                .order_by("pk")
            )
            if not managers:
                continue
            payload = _digest_payload(la, as_of, since)
            for manager in managers:
                message_enqueue(
                    template="emails/digest",
                    idempotency_key=f"digest:{la.dfe_code}:{today.isoformat()}:{manager.pk}",
                    channel=Channel.EMAIL,
                    recipient_user=manager,
                    local_authority=la,
                    payload=payload,
                    as_of=as_of,
                )
                written += 1
    return written


def _digest_payload(la: LocalAuthority, as_of: datetime, since: datetime) -> dict[str, Any]:
    open_escalations = Escalation.objects.filter(local_authority=la, resolved_at__isnull=True)
    by_rule: dict[str, dict[str, Any]] = {}
    for row in open_escalations.values("rule", "level").annotate(
        n=Count("id"), overdue=Count("id", filter=Q(due_at__lt=as_of))
    ):
        entry = by_rule.setdefault(
            row["rule"],
            {"rule": row["rule"], "summary": RULES[row["rule"]].summary, "open": 0, "overdue": 0}
            | {f"level_{level}": 0 for level in (1, 2, 3)},
        )
        entry["open"] += row["n"]
        entry["overdue"] += row["overdue"]
        entry[f"level_{row['level']}"] = row["n"]
    events = dict(
        EscalationEvent.objects.filter(escalation__local_authority=la, at__gte=since, at__lt=as_of)
        .values_list("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    overdue_ids = (
        open_escalations.filter(due_at__lt=as_of).order_by("due_at").values_list("episode_id", flat=True).distinct()
    )
    overdue_refs: list[str] = []
    for episode_id in overdue_ids:
        reference = Episode(pk=episode_id, local_authority=la).reference
        if reference not in overdue_refs:
            overdue_refs.append(reference)
        if len(overdue_refs) == DIGEST_OVERDUE_LISTED:
            break
    return {
        "la_name": la.header_name,
        "date": as_of.astimezone(LONDON).strftime("%A %-d %B %Y"),
        "rules": [by_rule[name] for name in RULES if name in by_rule],
        "open_total": sum(r["open"] for r in by_rule.values()),
        "overdue_total": sum(r["overdue"] for r in by_rule.values()),
        "raised_since": events.get("raised", 0),
        "climbed_since": events.get("climbed", 0),
        "resolved_since": events.get("resolved", 0),
        "reassigned_since": Escalation.objects.filter(
            local_authority=la, rule="officer_absent", raised_at__gte=since, raised_at__lt=as_of
        ).count(),
        "overdue_cases": overdue_refs,
    }
