"""The manager's dashboard (DESIGN section 6): pure reads, scoped by the user's LA.

Every figure is aggregated in SQL, so the page runs the same number of queries however many
officers, cases or escalations the LA has: one pass over the LA's cases for the overdue checks by
kind and the officers' loads together, one for the officers, one for the open escalations, two for
today's absences and moves, and one per service level (first contact, verification, reviews,
concern escalations) for the 12-week trend.

The overdue figures use the conditions of ``workflows.overdue``, the same ones the "Overdue
checks" queue filters with, so a figure and the queue it links to count the same cases.

Service levels are measured week by week (weeks start on Monday, London time) over the last 12
weeks, the current one so far. Each counts the clocks that ran out in the week (its
denominator) and those met in time (its numerator); clocks still running are not counted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlencode

from django.db import connection
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q, Subquery
from django.urls import get_script_prefix, reverse

from ehe_register.models import Absence, LocalAuthority, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON, add_working_days, at_local
from workflows.escalation_rules import RULES, SAFEGUARDING_RULE_NAMES
from workflows.models import Escalation, EscalationEvent
from workflows.overdue import (
    NEXT_ACTION_LEAVES_OUT,
    REVIEW_STATES,
    OverdueClock,
    OverdueKind,
    next_action_passed,
    open_escalations,
    overdue_condition,
)
from workflows.selectors import episodes_for
from workflows.states import ACTIVE_STATES, ClosureReason

DUE_SOON_WORKING_DAYS = 5
TREND_WEEKS = 12

# ----------------------------------------------------------------------------------------------
# Overdue checks by kind


@dataclass(frozen=True)
class OverdueFigure:
    kind: OverdueKind
    count: int

    @property
    def label(self) -> str:
        return self.kind.label

    @property
    def url(self) -> str:
        """The "Overdue checks" queue filtered to exactly these cases."""
        return f"{reverse('cases:queue', kwargs={'slug': 'overdue'})}?{urlencode({'check': self.kind.value})}"


def overdue_figures(user: Any, clock: OverdueClock, loads: list[dict[str, Any]] | None = None) -> list[OverdueFigure]:
    """How many of the user's LA's cases are overdue, by kind. A case overdue in two ways counts
    under both kinds. From :func:`episode_loads` (read here when not given)."""
    loads = episode_loads(user, clock) if loads is None else loads
    return [OverdueFigure(kind=kind, count=sum(row[f"kind_{kind.value}"] for row in loads)) for kind in OverdueKind]


# ----------------------------------------------------------------------------------------------
# Officers' loads


@dataclass(frozen=True)
class OfficerLoad:
    officer_id: int | None  # None: the team queue (unassigned cases)
    name: str
    caseload: int
    due_soon: int
    overdue: int
    absent: bool = False
    is_officer: bool = True  # False: someone other than an active EHE officer holds cases

    @property
    def queue_url(self) -> str:
        officer = str(self.officer_id) if self.officer_id else "none"
        return f"{_overdue_queue(get_script_prefix())}?{urlencode({'officer': officer})}"


@cache
def _overdue_queue(script_prefix: str) -> str:
    """The "Overdue checks" queue's address, worked out once (per script prefix, which the address
    starts with) rather than once for every officer in the table."""
    return reverse("cases:queue", kwargs={"slug": "overdue"})


def _absent_on(day: date) -> Q:
    return Q(starts_on__lte=day) & (Q(ends_on__isnull=True) | Q(ends_on__gte=day))


def episode_loads(user: Any, clock: OverdueClock) -> list[dict[str, Any]]:
    """The LA's active cases grouped by assigned officer (the team queue: no officer), each group
    with its caseload, its cases with work due in the next 5 working days, its overdue cases and
    its cases overdue by each kind (``kind_<kind>``).

    One pass over the LA's cases for the overdue figures and the officers' loads together, and each
    kind's condition is worked out once per case (a materialised CTE of flags): counted straight
    from the conditions, "overdue", "next action" (which leaves out the other kinds) and the kinds
    would each evaluate every kind again."""
    horizon = add_working_days(clock.today, DUE_SOON_WORKING_DAYS)
    due_soon = Q(next_action_due__gte=clock.today, next_action_due__lte=horizon) | Q(
        state__in=REVIEW_STATES, review_due_on__gte=clock.today, review_due_on__lte=horizon
    )
    specific = [kind for kind in OverdueKind if kind != OverdueKind.NEXT_ACTION]
    conditions = {f"f_{kind.value}": overdue_condition(kind, clock) for kind in specific}
    conditions["f_passed"] = next_action_passed(clock)
    conditions["f_due_soon"] = due_soon
    flags = (
        episodes_for(user)
        .filter(state__in=ACTIVE_STATES)
        .annotate(**{name: ExpressionWrapper(test, BooleanField()) for name, test in conditions.items()})
        .values("assigned_officer_id", *conditions)
    )
    inner, params = flags.query.sql_with_params()

    def flag(name: str) -> str:
        return f"coalesce(e.f_{name}, false)"  # a NULL date makes a condition NULL: not late on it

    left_out = " OR ".join(flag(kind.value) for kind in NEXT_ACTION_LEAVES_OUT)
    kinds = {kind.value: flag(kind.value) for kind in specific}
    kinds[OverdueKind.NEXT_ACTION.value] = f"{flag('passed')} AND NOT ({left_out})"
    overdue = " OR ".join([*(flag(kind.value) for kind in specific), flag("passed")])
    columns = ", ".join(f"count(*) FILTER (WHERE {test}) AS kind_{name}" for name, test in kinds.items())
    # Django compiled ``inner``; every value travels as a parameter.
    sql = f"""
        WITH e AS MATERIALIZED ({inner})
        SELECT e.assigned_officer_id, u.first_name, u.last_name, u.username, count(*) AS caseload,
               count(*) FILTER (WHERE {flag("due_soon")}) AS due_soon,
               count(*) FILTER (WHERE {overdue}) AS overdue, {columns}
        FROM e LEFT JOIN ehe_register_user u ON u.id = e.assigned_officer_id
        GROUP BY 1, 2, 3, 4
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description or ()]
        rows = cursor.fetchall()
    renamed = {
        "first_name": "assigned_officer__first_name",
        "last_name": "assigned_officer__last_name",
        "username": "assigned_officer__username",
    }
    return [{renamed.get(name, name): value for name, value in zip(names, row, strict=True)} for row in rows]


def officer_loads(user: Any, clock: OverdueClock, loads: list[dict[str, Any]] | None = None) -> list[OfficerLoad]:
    """Each active EHE officer of the LA (absent ones marked), anyone else holding cases, and the
    team queue: open cases, cases with work due in the next 5 working days, overdue cases.
    Two queries: the loads grouped by officer (:func:`episode_loads`, unless given), and the officers."""
    loads_by_officer = {
        row["assigned_officer_id"]: row for row in (episode_loads(user, clock) if loads is None else loads)
    }
    officers = (
        User.objects.filter(
            local_authority_id=clock.local_authority_id, groups__name=Role.EHE_OFFICER.value, is_active=True
        )
        .annotate(absent=Exists(Absence.objects.filter(_absent_on(clock.today), officer=OuterRef("pk"))))
        .order_by("first_name", "last_name", "username")
    )
    rows: list[OfficerLoad] = []
    for officer in officers:
        load = loads_by_officer.pop(officer.pk, {})
        rows.append(
            OfficerLoad(
                officer_id=officer.pk,
                name=officer.display_name,
                caseload=load.get("caseload", 0),
                due_soon=load.get("due_soon", 0),
                overdue=load.get("overdue", 0),
                absent=officer.absent,
            )
        )
    team = loads_by_officer.pop(None, None)
    for officer_id, load in sorted(loads_by_officer.items()):
        name = " ".join(filter(None, (load["assigned_officer__first_name"], load["assigned_officer__last_name"])))
        rows.append(
            OfficerLoad(
                officer_id=officer_id,
                name=name or load["assigned_officer__username"],
                caseload=load["caseload"],
                due_soon=load["due_soon"],
                overdue=load["overdue"],
                is_officer=False,
            )
        )
    rows.append(
        OfficerLoad(
            officer_id=None,
            name="Team queue (unassigned)",
            caseload=team["caseload"] if team else 0,
            due_soon=team["due_soon"] if team else 0,
            overdue=team["overdue"] if team else 0,
        )
    )
    return rows


# ----------------------------------------------------------------------------------------------
# Open escalations by rule, level and age


@dataclass(frozen=True)
class AgeBand:
    key: str
    label: str
    from_days: int
    to_days: int | None  # exclusive; None: no upper bound


AGE_BANDS: tuple[AgeBand, ...] = (
    AgeBand("under_1", "Under 1 day", 0, 1),
    AgeBand("days_1_5", "1 to 5 days", 1, 6),
    AgeBand("days_6_20", "6 to 20 days", 6, 21),
    AgeBand("over_20", "Over 20 days", 21, None),
)


@dataclass(frozen=True)
class EscalationRow:
    rule: str
    level: int
    total: int
    overdue: int
    by_age: tuple[int, ...]  # in the order of AGE_BANDS

    @property
    def summary(self) -> str:
        return RULES[self.rule].summary if self.rule in RULES else self.rule


def open_escalations_by_age(user: Any, clock: OverdueClock) -> list[EscalationRow]:
    """Open escalations (notify-only rules aside) by rule and level, with how long they have been
    open (since raised) and how many are past their due time. One query."""
    bands = {}
    for band in AGE_BANDS:
        condition = Q(raised_at__lte=clock.now - timedelta(days=band.from_days))
        if band.to_days is not None:
            condition &= Q(raised_at__gt=clock.now - timedelta(days=band.to_days))
        bands[band.key] = Count("pk", filter=condition)
    rows = (
        open_escalations()
        .filter(local_authority_id=clock.local_authority_id)
        .values("rule", "level")
        .annotate(total=Count("pk"), overdue=Count("pk", filter=Q(due_at__lt=clock.now)), **bands)
        .order_by()
    )
    order = {name: i for i, name in enumerate(RULES)}
    result = [
        EscalationRow(
            rule=row["rule"],
            level=row["level"],
            total=row["total"],
            overdue=row["overdue"],
            by_age=tuple(row[band.key] for band in AGE_BANDS),
        )
        for row in rows
    ]
    return sorted(result, key=lambda r: (order.get(r.rule, len(order)), r.level))


# ----------------------------------------------------------------------------------------------
# Today's absences and what moved


@dataclass(frozen=True)
class AbsenceToday:
    officer_name: str
    starts_on: date
    ends_on: date | None
    kind: str


@dataclass(frozen=True)
class CaseMoved:
    episode_id: int
    reference: str
    at: datetime
    note: str


def absences_today(user: Any, clock: OverdueClock) -> list[AbsenceToday]:
    absences = (
        Absence.objects.filter(_absent_on(clock.today), officer__local_authority_id=clock.local_authority_id)
        .select_related("officer")
        .order_by("officer__first_name", "officer__last_name", "starts_on")
    )
    return [
        AbsenceToday(
            officer_name=a.officer.display_name, starts_on=a.starts_on, ends_on=a.ends_on, kind=a.get_kind_display()
        )
        for a in absences
    ]


def cases_moved_today(user: Any, clock: OverdueClock) -> list[CaseMoved]:
    """The ``officer_absent`` escalations raised today: which cases moved, and where to."""
    note = EscalationEvent.objects.filter(escalation=OuterRef("pk"), kind="reassigned").order_by("-at").values("note")
    moved = (
        Escalation.objects.filter(
            rule="officer_absent",
            local_authority_id=clock.local_authority_id,
            raised_at__gte=at_local(clock.today, time(0)),
            raised_at__lte=clock.now,
        )
        .annotate(move_note=Subquery(note[:1]))
        .select_related("episode__local_authority")
        .order_by("raised_at", "pk")
    )
    return [
        CaseMoved(episode_id=x.episode_id, reference=x.episode.reference, at=x.raised_at, note=x.move_note or "")
        for x in moved
    ]


# ----------------------------------------------------------------------------------------------
# Service levels: a 12-week trend


@dataclass(frozen=True)
class SlaWeek:
    week_start: date
    met: int
    due: int

    @property
    def percent(self) -> int | None:
        return round(100 * self.met / self.due) if self.due else None


@dataclass(frozen=True)
class Sla:
    key: str
    title: str
    numerator: str
    denominator: str
    clock: str
    weeks: list[SlaWeek] = field(default_factory=list)

    @property
    def met(self) -> int:
        return sum(w.met for w in self.weeks)

    @property
    def due(self) -> int:
        return sum(w.due for w in self.weeks)

    @property
    def percent(self) -> int | None:
        return round(100 * self.met / self.due) if self.due else None


def trend_weeks(today: date, weeks: int = TREND_WEEKS) -> list[date]:
    """The Mondays of the last ``weeks`` weeks, the current week last."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def _weekly(sql: str, params: dict[str, Any], starts: Sequence[date]) -> list[SlaWeek]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
    return [
        SlaWeek(week_start=start, met=found.get(start, (0, 0))[0], due=found.get(start, (0, 0))[1]) for start in starts
    ]


# The earliest time a case's contact details were verified: its first move out of address
# verification (the transition log), or the verification time on the case, whichever is earlier.
_FIRST_VERIFIED = """LEAST(e.contacts_verified_at, (
    SELECT min(t.at) FROM workflows_transitionlog t
    WHERE t.episode_id = e.id AND t.transition = 'contacts_verified'))"""


def _local_date(column: str) -> str:
    return f"({column} AT TIME ZONE 'Europe/London')::date"


def sla_first_contact(la: LocalAuthority, clock: OverdueClock, starts: Sequence[date]) -> Sla:
    k = la.first_contact_days
    sql = f"""
        WITH clocks AS (
            SELECT e.received_on + %(k)s AS deadline,
                   e.first_contact_at IS NOT NULL
                       AND {_local_date("e.first_contact_at")} <= e.received_on + %(k)s AS met,
                   e.closed_at IS NOT NULL AND {_local_date("e.closed_at")} <= e.received_on + %(k)s AS closed_first
            FROM workflows_episode e
            WHERE e.local_authority_id = %(la)s AND e.closure_reason <> %(duplicate)s
              AND e.received_on >= %(first_received)s AND e.received_on < %(received_before)s
        )
        SELECT date_trunc('week', deadline)::date, count(*) FILTER (WHERE met), count(*)
        FROM clocks WHERE met OR NOT closed_first GROUP BY 1
    """  # noqa: S608 - fixed fragments only
    # The clock runs out in the window when the notification was received k days before it (the
    # dates worked out here, so that the condition reads an index range of receipt dates).
    params = {
        "k": k,
        "la": la.pk,
        "duplicate": ClosureReason.DUPLICATE.value,
        "first_received": starts[0] - timedelta(days=k),
        "received_before": clock.today - timedelta(days=k),
    }
    return Sla(
        key="first_contact",
        title=f"First contact within {k} days",
        numerator=f"cases with a first contact (a parent reached) by the {k}th day after the notification was received",
        denominator=f"cases whose {k}-day clock ran out in the week; merged duplicates and cases closed "
        "before the clock ran out without contact are left out",
        clock=f"starts the day the notification was received; runs {k} calendar days",
        weeks=_weekly(sql, params, starts),
    )


def sla_verification(la: LocalAuthority, clock: OverdueClock, starts: Sequence[date]) -> Sla:
    n = la.contacts_unverified_working_days
    # The deadline of every receipt date that can fall due in the window, on the bank-holiday calendar.
    first_received = starts[0] - timedelta(days=2 * n + 14)
    calendar = [
        {
            "received_on": (first_received + timedelta(days=i)).isoformat(),
            "deadline": add_working_days(first_received + timedelta(days=i), n).isoformat(),
        }
        for i in range((clock.today - first_received).days + 1)
    ]
    # The first verification is looked up once a case (a materialised CTE): written into the
    # conditions below, the planner looked it up four times a case.
    sql = f"""
        WITH cases AS MATERIALIZED (
            SELECT d.deadline, {_FIRST_VERIFIED} AS verified_at, e.closed_at
            FROM workflows_episode e
            JOIN jsonb_to_recordset(%(calendar)s::jsonb) AS d(received_on date, deadline date)
              ON d.received_on = e.received_on
            WHERE e.local_authority_id = %(la)s AND e.closure_reason <> %(duplicate)s
              AND e.received_on BETWEEN %(first_received)s AND %(today)s
              AND d.deadline >= %(first)s AND d.deadline < %(today)s
        ), clocks AS (
            SELECT deadline,
                   verified_at IS NOT NULL AND {_local_date("verified_at")} <= deadline AS met,
                   closed_at IS NOT NULL AND {_local_date("closed_at")} <= deadline AS closed_first
            FROM cases
        )
        SELECT date_trunc('week', deadline)::date, count(*) FILTER (WHERE met), count(*)
        FROM clocks WHERE met OR NOT closed_first GROUP BY 1
    """  # noqa: S608 - fixed fragments only
    params = {
        "calendar": json.dumps(calendar),
        "first_received": first_received,
        "la": la.pk,
        "duplicate": ClosureReason.DUPLICATE.value,
        "first": starts[0],
        "today": clock.today,
    }
    return Sla(
        key="verification",
        title=f"Contact details verified within {n} working days",
        numerator=f"cases whose contact details were first verified by the {n}th working day after receipt",
        denominator=f"cases whose {n}-working-day clock ran out in the week; merged duplicates and cases "
        "closed before the clock ran out without verification are left out",
        clock=f"starts the day the notification was received; runs {n} working days (bank holidays excluded)",
        weeks=_weekly(sql, params, starts),
    )


def sla_reviews(la: LocalAuthority, clock: OverdueClock, starts: Sequence[date]) -> Sla:
    sql = """
        WITH clocks AS (
            SELECT r.due_on AS deadline, r.held_on IS NOT NULL AND r.held_on <= r.due_on AS met
            FROM workflows_review r JOIN workflows_episode e ON e.id = r.episode_id
            WHERE e.local_authority_id = %(la)s AND r.due_on >= %(first)s AND r.due_on < %(today)s
              AND EXISTS (SELECT 1 FROM workflows_transitionlog t
                          WHERE t.episode_id = e.id AND t.to_state = 'review_due')
            UNION ALL
            SELECT e.review_due_on, false
            FROM workflows_episode e
            WHERE e.local_authority_id = %(la)s AND e.state = ANY(%(review_states)s)
              AND e.review_due_on >= %(first)s AND e.review_due_on < %(today)s
        )
        SELECT date_trunc('week', deadline)::date, count(*) FILTER (WHERE met), count(*) FROM clocks GROUP BY 1
    """
    params = {
        "la": la.pk,
        "first": starts[0],
        "today": clock.today,
        "review_states": [str(s) for s in REVIEW_STATES],
    }
    return Sla(
        key="reviews",
        title="Reviews held by their due date",
        numerator="reviews held on or before their due date",
        denominator="reviews due in the week: reviews recorded on cases that had fallen due for review, "
        "and cases whose review date has passed with no review recorded",
        clock="the review date set when the case last went into monitoring",
        weeks=_weekly(sql, params, starts),
    )


def sla_concerns(la: LocalAuthority, clock: OverdueClock, starts: Sequence[date]) -> Sla:
    sql = f"""
        WITH clocks AS (
            SELECT {_local_date("x.raised_at")} AS raised_on,
                   x.acknowledged_at IS NOT NULL AND x.acknowledged_at <= x.due_at
                       AND NOT EXISTS (SELECT 1 FROM workflows_escalationevent v
                                       WHERE v.escalation_id = x.id AND v.kind = 'climbed') AS met,
                   x.acknowledged_at IS NULL AND x.level = 1 AND x.due_at > %(now)s AS running
            FROM workflows_escalation x
            WHERE x.local_authority_id = %(la)s AND x.rule = ANY(%(rules)s)
              AND x.raised_at >= %(first_at)s AND x.raised_at <= %(now)s
        )
        SELECT date_trunc('week', raised_on)::date, count(*) FILTER (WHERE met), count(*)
        FROM clocks WHERE NOT running GROUP BY 1
    """  # noqa: S608 - fixed fragments only
    params = {
        "la": la.pk,
        "rules": list(SAFEGUARDING_RULE_NAMES),
        "first_at": at_local(starts[0], time(0)),
        "now": clock.now,
    }
    return Sla(
        key="concerns",
        title="Concern escalations acknowledged by their due time",
        numerator="safeguarding escalations acknowledged (or decided) at level 1 by their due time",
        denominator="safeguarding escalations (a concern ticked, or a child known to social care) raised in "
        "the week, except those still open at level 1 and not yet due",
        clock="starts when the escalation is raised; due at the end of the working day (concerns) or "
        "after 1 working day (known to social care)",
        weeks=_weekly(sql, params, starts),
    )


def service_levels(user: Any, clock: OverdueClock) -> list[Sla]:
    """The four service levels, each week by week over the last 12 weeks (one query each)."""
    la = LocalAuthority.objects.get(pk=clock.local_authority_id)
    starts = trend_weeks(clock.today)
    return [
        sla_first_contact(la, clock, starts),
        sla_verification(la, clock, starts),
        sla_reviews(la, clock, starts),
        sla_concerns(la, clock, starts),
    ]


# ----------------------------------------------------------------------------------------------
# The chart: drawn on the server as SVG coordinates (no script; CSP allows no inline style)


@dataclass(frozen=True)
class ChartSeries:
    key: str
    title: str
    colour: str
    dash: str
    marker: str  # "circle", "square", "diamond", "triangle"
    points: list[tuple[float, float, int]]  # (x, y, percent) for weeks with a figure
    segments: list[str]  # polyline point lists: a week with nothing due breaks the line

    @property
    def markers(self) -> list[str]:
        """An SVG path for the marker at each point (shapes, not only colours, tell series apart)."""
        return [marker_path(self.marker, x, y) for x, y, _ in self.points]

    @property
    def legend_marker(self) -> str:
        return marker_path(self.marker, 20, 8)


def marker_path(shape: str, x: float, y: float, r: float = 4.5) -> str:
    if shape == "square":
        return f"M{x - r},{y - r}h{2 * r}v{2 * r}h{-2 * r}Z"
    if shape == "diamond":
        return f"M{x},{y - r - 1}L{x + r + 1},{y}L{x},{y + r + 1}L{x - r - 1},{y}Z"
    if shape == "triangle":
        return f"M{x},{y - r - 1}L{x + r + 1},{y + r}L{x - r - 1},{y + r}Z"
    return f"M{x - r},{y}a{r},{r} 0 1,0 {2 * r},0a{r},{r} 0 1,0 {-2 * r},0"


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    gridlines: list[tuple[float, int]]  # (y, percent)
    x_labels: list[tuple[float, date]]
    series: list[ChartSeries]


SERIES_STYLE = {
    "first_contact": ("#1d70b8", "", "circle"),
    "verification": ("#d4351c", "8 4", "square"),
    "reviews": ("#00703c", "2 3", "diamond"),
    "concerns": ("#4c2c92", "12 4 2 4", "triangle"),
}


def sla_chart(slas: Sequence[Sla], *, width: int = 720, height: int = 300) -> Chart:
    """Coordinates for a line chart of each service level's weekly percentage (0 to 100)."""
    left, right, top, bottom = 48, width - 16, 16, height - 40
    weeks = [w.week_start for w in slas[0].weeks] if slas else []
    step = (right - left) / max(len(weeks) - 1, 1)

    def x_of(i: int) -> float:
        return round(left + i * step, 1)

    def y_of(percent: int) -> float:
        return round(bottom - (bottom - top) * percent / 100, 1)

    series = []
    for sla in slas:
        colour, dash, marker = SERIES_STYLE.get(sla.key, ("#0b0c0c", "", "circle"))
        points: list[tuple[float, float, int]] = []
        segments: list[str] = []
        run: list[str] = []
        for i, week in enumerate(sla.weeks):
            percent = week.percent
            if percent is None:
                if run:
                    segments.append(" ".join(run))
                run = []
                continue
            point = (x_of(i), y_of(percent), percent)
            points.append(point)
            run.append(f"{point[0]},{point[1]}")
        if run:
            segments.append(" ".join(run))
        series.append(ChartSeries(sla.key, sla.title, colour, dash, marker, points, segments))
    return Chart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        gridlines=[(y_of(p), p) for p in (0, 25, 50, 75, 100)],
        x_labels=[(x_of(i), week) for i, week in enumerate(weeks)],
        series=series,
    )


# ----------------------------------------------------------------------------------------------
# The whole page


@dataclass(frozen=True)
class Dashboard:
    as_of: datetime
    today: date
    overdue: list[OverdueFigure]
    officers: list[OfficerLoad]
    escalations: list[EscalationRow]
    absences: list[AbsenceToday]
    moved: list[CaseMoved]
    slas: list[Sla]
    chart: Chart

    @property
    def weekly_rows(self) -> list[WeeklyRow]:
        """The chart's figures as table rows: one per week, a cell per service level."""
        if not self.slas:
            return []
        return [
            WeeklyRow(week_start=week.week_start, cells=[sla.weeks[i] for sla in self.slas])
            for i, week in enumerate(self.slas[0].weeks)
        ]


@dataclass(frozen=True)
class WeeklyRow:
    week_start: date
    cells: list[SlaWeek]


def dashboard_for(user: Any, *, as_of: datetime) -> Dashboard:
    """Everything the manager's dashboard shows, for the user's LA at ``as_of``."""
    clock = OverdueClock.of(user.local_authority, as_of)
    slas = service_levels(user, clock)
    loads = episode_loads(user, clock)
    return Dashboard(
        as_of=as_of,
        today=as_of.astimezone(LONDON).date(),
        overdue=overdue_figures(user, clock, loads),
        officers=officer_loads(user, clock, loads),
        escalations=open_escalations_by_age(user, clock),
        absences=absences_today(user, clock),
        moved=cases_moved_today(user, clock),
        slas=slas,
        chart=sla_chart(slas),
    )
