"""The integrity check: "nothing waits silently", measured (DESIGN section 6).

Lists every case that breaks one of these invariants, grouped by invariant. The figure should
always be zero; anything it finds is a case the escalation rules or the casework services let
slip, and someone must put it right by hand.

- ``clock_run_out``: an active case overdue by one of its own clocks (``workflows.overdue``:
  verification, enquiry, review, consent decision, next action) with no open escalation at all.
  Any open escalation of a rule that is not notify-only counts as cover (the catch-all
  ``next_action_overdue`` rule fires only where no other rule holds one), except an overdue
  quality-audit action's, which is about practice, not the case's clock. Likewise a case with an
  overdue quality-audit action (``audit_action_overdue``) and no open escalation of that rule.
- ``owner_cannot_act``: an open escalation whose owner cannot act on it today: no owner at all;
  an owning user who is inactive, in another LA or absent today (absence cover should have moved
  it); an owning role that no active, present user of the LA holds.
- ``no_next_action``: an active case with no next action due.
- ``safeguarding_on_closed``: a safeguarding escalation still open on a closed case.
- ``state_dates_disagree``: a case whose state and dates disagree (monitoring or review due with
  no review date, a s437 notice or attendance order with no service date, a closed case with no
  closing time or reason, an active case with a closing time).

Every invariant is one set-based query (the clock one, one per LA, since its thresholds are the
LA's); ``as_of`` comes from Python, never the database's clock. Reports carry case references
only, never a child's name.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import reduce
from typing import Any

from django.db import transaction
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Window

from ehe_register.models import Absence, LocalAuthority, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON
from notifications.models import Channel
from notifications.services import message_enqueue
from workflows.escalation_rules import RULES, SAFEGUARDING_RULE_NAMES
from workflows.models import AuditAction, Episode, Escalation
from workflows.overdue import (
    CASE_CLOCKS,
    CLOCK_STATES,
    OverdueClock,
    latest_start,
    open_escalations,
    overdue_condition,
)
from workflows.states import ACTIVE_STATES, STATE_DATE_RULES, State


class Invariant(StrEnum):
    CLOCK_RUN_OUT = "clock_run_out"
    OWNER_CANNOT_ACT = "owner_cannot_act"
    NO_NEXT_ACTION = "no_next_action"
    SAFEGUARDING_ON_CLOSED = "safeguarding_on_closed"
    STATE_DATES_DISAGREE = "state_dates_disagree"

    @property
    def label(self) -> str:
        return INVARIANT_LABELS[self]


INVARIANT_LABELS: dict[Invariant, str] = {
    Invariant.CLOCK_RUN_OUT: "A clock has run out and no escalation is open",
    Invariant.OWNER_CANNOT_ACT: "An open escalation's owner cannot act on it",
    Invariant.NO_NEXT_ACTION: "An open case has no next action due",
    Invariant.SAFEGUARDING_ON_CLOSED: "A safeguarding escalation is open on a closed case",
    Invariant.STATE_DATES_DISAGREE: "A case's state and dates disagree",
}


@dataclass(frozen=True)
class Problem:
    invariant: Invariant
    episode_id: int
    reference: str
    local_authority_id: int
    detail: str


@dataclass
class IntegrityReport:
    as_of: datetime
    problems: dict[Invariant, list[Problem]] = field(default_factory=dict)
    # How many cases break each invariant, where ``problems`` lists only the first of them (a
    # check run with ``listed``); an invariant missing here has all its problems listed.
    counts: dict[Invariant, int] = field(default_factory=dict)

    def count(self, invariant: Invariant) -> int:
        return self.counts.get(invariant, len(self.problems.get(invariant, [])))

    @property
    def total(self) -> int:
        return sum(self.count(invariant) for invariant in Invariant)

    @property
    def groups(self) -> list[tuple[Invariant, list[Problem]]]:
        """Every invariant, in declaration order, with the problems found (maybe none)."""
        return [(invariant, self.problems.get(invariant, [])) for invariant in Invariant]

    @property
    def listed_groups(self) -> list[tuple[Invariant, list[Problem], int, int]]:
        """Every invariant with the problems listed, how many there are in all and how many of
        them are not listed."""
        groups = []
        for invariant in Invariant:
            listed = self.problems.get(invariant, [])
            count = self.count(invariant)
            groups.append((invariant, listed, count, count - len(listed)))
        return groups


def _reference(pk: int, dfe_code: str) -> str:
    return Episode(pk=pk, local_authority=LocalAuthority(dfe_code=dfe_code)).reference


def _any(flags: dict[str, Any]) -> Q:
    return reduce(operator.or_, [Q(**{key: True}) for key in flags])


def _flag(condition: Q) -> ExpressionWrapper:
    return ExpressionWrapper(condition, output_field=BooleanField())


def _by(first: str, *then: str) -> list[Any]:
    """An ordering by case that no index gives, on purpose. Ordered by the primary key with a
    LIMIT, PostgreSQL walks the whole key in order looking for the few rows of one LA that match
    (300 to 500 ms a query at a million cases, nothing found); with ``id + 0`` it finds the LA's
    rows through the LA's indexes and sorts what matched, which the count needs anyway."""
    return [F(first) + 0, *then]


def _take(rows: QuerySet[Any], listed: int | None) -> tuple[list[Any], int]:
    """The first ``listed`` rows (all of them when ``listed`` is None) and how many there are:
    a page shows the first few of thousands without building thousands of objects. One query
    either way (the count is a window over every row, worked out before the limit), so a page
    runs the same queries however many problems there are."""
    if listed is None:
        found = list(rows)
        return found, len(found)
    if listed <= 0:
        return [], rows.count()
    found = list(rows.annotate(found_in_all=Window(Count("*")))[:listed])
    return found, found[0]["found_in_all"] if found else 0


def _problems(invariant: Invariant, rows: Any, details: dict[str, str]) -> list[Problem]:
    """Problems from rows carrying ``pk``, ``dfe``, ``la`` and a boolean per key of ``details``."""
    return [
        Problem(
            invariant=invariant,
            episode_id=row["episode"],
            reference=_reference(row["episode"], row["dfe"]),
            local_authority_id=row["la"],
            detail="; ".join(text for key, text in details.items() if row[key]),
        )
        for row in rows
    ]


AUDIT_RULE = "audit_action_overdue"


def _clocks_run_out(
    authorities: list[LocalAuthority], as_of: datetime, listed: int | None = None
) -> tuple[list[Problem], int]:
    """Cases late on one of their own clocks with no open escalation (an audit action's aside), and
    swept cases with a quality-audit action past its due date ("passed" as the rule counts it) and
    no open escalation of the ``audit_action_overdue`` rule. One query per LA (each LA's thresholds
    are its own) finds both, so a case late on both is one problem, listed and counted once."""
    details = {f"clock_{kind.value}": kind.label for kind in CASE_CLOCKS}
    passed_by = latest_start(as_of.astimezone(LONDON).date(), 1)
    audit_overdue = Exists(
        AuditAction.objects.filter(audit_case__episode=OuterRef("pk"), completed_at__isnull=True, due_on__lte=passed_by)
    )
    audit_uncovered = ~Exists(open_escalations().filter(episode=OuterRef("pk"), rule=AUDIT_RULE))
    clock_uncovered = ~Exists(open_escalations().filter(episode=OuterRef("pk")).exclude(rule=AUDIT_RULE))
    audit = Q(state__in=CLOCK_STATES) & audit_overdue & audit_uncovered
    found: list[Problem] = []
    count = 0
    for la in authorities:  # a few LAs, not cases
        clock = OverdueClock.of(la, as_of)
        late = {key: overdue_condition(kind, clock) for key, kind in zip(details, CASE_CLOCKS, strict=True)}
        rows = (
            Episode.objects.filter(local_authority=la, state__in=ACTIVE_STATES)
            .filter((reduce(operator.or_, late.values()) & clock_uncovered) | audit)
            .annotate(**{key: _flag(test) for key, test in late.items()})
            .annotate(uncovered=_flag(Q(clock_uncovered)), audit=_flag(audit))
            .values(*details, "uncovered", "audit", la=F("local_authority_id"), episode=F("pk"))
            .order_by(*_by("pk"))
        )
        taken, in_la = _take(rows, listed)
        count += in_la
        for row in taken:
            reasons = [text for key, text in details.items() if row[key] and row["uncovered"]]
            if row["audit"]:
                reasons.append(RULES[AUDIT_RULE].summary)
            found.append(
                Problem(
                    invariant=Invariant.CLOCK_RUN_OUT,
                    episode_id=row["episode"],
                    reference=_reference(row["episode"], la.dfe_code),
                    local_authority_id=row["la"],
                    detail="; ".join(reasons),
                )
            )
    found.sort(key=lambda problem: problem.episode_id)
    return (found if listed is None else found[:listed]), count


def _absent_today(officer: Any, as_of: datetime) -> Exists:
    today = as_of.astimezone(LONDON).date()
    return Exists(
        Absence.objects.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today), officer=officer, starts_on__lte=today)
    )


def _owners_cannot_act(
    escalations: QuerySet[Escalation], as_of: datetime, listed: int | None = None
) -> tuple[list[Problem], int]:
    present_holders = User.objects.filter(
        local_authority_id=OuterRef("local_authority_id"), groups__name=OuterRef("owner_role"), is_active=True
    ).exclude(_absent_today(OuterRef("pk"), as_of))
    has_user = Q(owner_user__isnull=False)
    flags = {
        "no_owner": _flag(Q(owner_user__isnull=True, owner_role="")),
        "user_inactive": _flag(has_user & Q(owner_user__is_active=False)),
        "user_elsewhere": _flag(
            has_user
            & (Q(owner_user__local_authority__isnull=True) | ~Q(owner_user__local_authority=F("local_authority")))
        ),
        "user_absent": _flag(has_user & Q(_absent_today(OuterRef("owner_user_id"), as_of))),
        "role_uncovered": _flag(Q(owner_user__isnull=True) & ~Q(owner_role="") & ~Q(Exists(present_holders))),
    }
    rows = (
        escalations.annotate(**flags)
        .filter(_any(flags))
        .values("rule", "level", "owner_role", *flags, dfe=F("local_authority__dfe_code"), la=F("local_authority_id"))
        .annotate(episode=F("episode_id"))
        .order_by(*_by("episode_id", "rule"))
    )
    taken, count = _take(rows, listed)
    problems = []
    for row in taken:
        summary = RULES[row["rule"]].summary if row["rule"] in RULES else row["rule"]
        role = Role(row["owner_role"]).label if row["owner_role"] in set(Role) else row["owner_role"]
        reasons = {
            "no_owner": "it has no owner",
            "user_inactive": "its owner's account is switched off",
            "user_elsewhere": "its owner works for another local authority",
            "user_absent": "its owner is absent today",
            "role_uncovered": f"nobody at work today holds the role {role}",
        }
        problems.append(
            Problem(
                invariant=Invariant.OWNER_CANNOT_ACT,
                episode_id=row["episode"],
                reference=_reference(row["episode"], row["dfe"]),
                local_authority_id=row["la"],
                detail=f"{summary} (level {row['level']}): "
                + "; ".join(text for key, text in reasons.items() if row[key]),
            )
        )
    return problems, count


def _no_next_action(episodes: QuerySet[Episode], listed: int | None = None) -> tuple[list[Problem], int]:
    # Ordered as its partial index ``episode_no_next_action`` is (empty while all is well).
    rows = (
        episodes.filter(state__in=ACTIVE_STATES, next_action_due__isnull=True)
        .annotate(none=_flag(Q(pk__isnull=False)))
        .values("none", dfe=F("local_authority__dfe_code"), la=F("local_authority_id"), episode=F("pk"))
        .order_by("local_authority_id", "pk")
    )
    taken, count = _take(rows, listed)
    return _problems(Invariant.NO_NEXT_ACTION, taken, {"none": "No next action due"}), count


def _safeguarding_on_closed(escalations: QuerySet[Escalation], listed: int | None = None) -> tuple[list[Problem], int]:
    rows = (
        escalations.filter(rule__in=SAFEGUARDING_RULE_NAMES, episode__state=State.CLOSED)
        .annotate(open=_flag(Q(pk__isnull=False)))
        .values("open", "rule", dfe=F("local_authority__dfe_code"), la=F("local_authority_id"))
        .annotate(episode=F("episode_id"))
        .order_by(*_by("episode_id", "rule"))
    )
    taken, count = _take(rows, listed)
    problems = [
        Problem(
            invariant=Invariant.SAFEGUARDING_ON_CLOSED,
            episode_id=row["episode"],
            reference=_reference(row["episode"], row["dfe"]),
            local_authority_id=row["la"],
            detail=f"{RULES[row['rule']].summary}: still open",
        )
        for row in taken
    ]
    return problems, count


def _state_dates_disagree(episodes: QuerySet[Episode], listed: int | None = None) -> tuple[list[Problem], int]:
    flags = {key: _flag(condition) for key, (condition, _) in STATE_DATE_RULES.items()}
    # Filtered by the conditions themselves, as the partial index ``episode_state_dates_disagree``
    # states them (the planner uses the index when the query implies its condition), and ordered
    # as the index is: found in the index, in order, not sorted after a parallel scan.
    rows = (
        episodes.filter(reduce(operator.or_, [condition for condition, _ in STATE_DATE_RULES.values()]))
        .annotate(**flags)
        .values(*flags, dfe=F("local_authority__dfe_code"), la=F("local_authority_id"), episode=F("pk"))
        .order_by("local_authority_id", "pk")
    )
    taken, count = _take(rows, listed)
    details = {k: text for k, (_, text) in STATE_DATE_RULES.items()}
    return _problems(Invariant.STATE_DATES_DISAGREE, taken, details), count


def integrity_check(*, as_of: datetime, la_code: str | None = None, listed: int | None = None) -> IntegrityReport:
    """Every case breaking an invariant at ``as_of`` (aware), in the LAs using the service (or
    the one LA ``la_code``), grouped by invariant. With ``listed``, only the first ``listed``
    problems of each invariant are listed, with how many there are in all (``counts``)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    chosen = LocalAuthority.objects.filter(uses_service=True)
    if la_code is not None:
        chosen = LocalAuthority.objects.filter(dfe_code=la_code)
    authorities = list(chosen.order_by("pk"))
    if la_code is not None and not authorities:
        raise LocalAuthority.DoesNotExist(f"No local authority with the DfE code {la_code}")
    la_ids = [la.pk for la in authorities]
    episodes = Episode.objects.filter(local_authority_id__in=la_ids)
    escalations = open_escalations().filter(local_authority_id__in=la_ids)
    found = {
        Invariant.CLOCK_RUN_OUT: _clocks_run_out(authorities, as_of, listed),
        Invariant.OWNER_CANNOT_ACT: _owners_cannot_act(escalations, as_of, listed),
        Invariant.NO_NEXT_ACTION: _no_next_action(episodes, listed),
        Invariant.SAFEGUARDING_ON_CLOSED: _safeguarding_on_closed(escalations, listed),
        Invariant.STATE_DATES_DISAGREE: _state_dates_disagree(episodes, listed),
    }
    return IntegrityReport(
        as_of=as_of,
        problems={k: problems for k, (problems, _) in found.items() if problems},
        counts={k: count for k, (problems, count) in found.items() if count > len(problems)},
    )


EMAILED = 100  # problems listed per invariant in the daily email; the command lists them all


def integrity_report_send(*, as_of: datetime, la_code: str | None = None) -> int:
    """Run the check, LA by LA, and email each LA's heads of service when it finds anything (once
    per LA per day: the idempotency key). Case references only, the first 100 of each kind with
    how many there are in all: on a day the sweep has not run, a large LA's list would run to
    thousands of lines nobody reads. Returns how many messages were written."""
    chosen = LocalAuthority.objects.filter(uses_service=True)
    if la_code is not None:
        chosen = LocalAuthority.objects.filter(dfe_code=la_code)
        if not chosen.exists():
            raise LocalAuthority.DoesNotExist(f"No local authority with the DfE code {la_code}")
    today = as_of.astimezone(LONDON).date()
    written = 0
    for la in chosen.order_by("dfe_code"):
        mine = integrity_check(as_of=as_of, la_code=la.dfe_code, listed=EMAILED)
        if not mine.total:
            continue
        payload = {
            "la_name": la.header_name,
            "date": today.strftime("%-d %B %Y"),
            "total": mine.total,
            "groups": [
                {
                    "label": invariant.label,
                    "count": count,
                    "more": more,
                    "problems": [f"{p.reference}: {p.detail}" for p in problems],
                }
                for invariant, problems, count, more in mine.listed_groups
                if problems
            ],
        }
        heads = (
            User.objects.filter(local_authority=la, groups__name=Role.HEAD_OF_SERVICE.value, is_active=True)
            .exclude(email="")
            .order_by("pk")
        )
        with transaction.atomic():
            for head in heads:
                message_enqueue(
                    template="emails/integrity",
                    idempotency_key=f"integrity:{la.dfe_code}:{today.isoformat()}:{head.pk}",
                    channel=Channel.EMAIL,
                    recipient_user=head,
                    local_authority=la,
                    payload=payload,
                    as_of=as_of,
                )
                written += 1
    return written
