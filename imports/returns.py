"""The DfE termly elective home education return (DESIGN sections 3 and 6).

For a census date: the children in EHE by sex, year group (worked out from the date of birth on
the census date; the English academic year starts on 1 September) and primary reason, counting
children of compulsory school age on that day who live in the LA (every child row belongs to the
LA where the child lives) and whose case was open that day. Children whose case was in
``missing_education`` that day are counted apart; a case still ``awaiting_consent`` is not yet
EHE (the child stays on roll until the LA decides), and a case that was merged away as a
duplicate never counts.

Over a period: new EHE cases by the type of the school that notified them, returns to school,
s437(1) notices served, school attendance orders served and revoked, from the case dates and the
transition log.

Two outputs: the LA's own figures for the collection (exact counts), and a file in the layout of
the DfE's published ``ehe_census.csv`` (LA figures rounded to the nearest 10, ``low`` for a
count that is not 0 but rounds to 0, ``x`` where a figure is not available), so the LA can set
itself beside the national figures.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from django.db.models import DateField, OuterRef, Q, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils import timezone

from ehe_register.models import LocalAuthority, ReasonCode, Sex
from ehe_register.services.reference_data import LAS_CSV
from ehe_register.validators import is_compulsory_school_age, year_group, year_group_label
from workflows.models import Episode, TransitionLog
from workflows.states import ClosureReason, State

NOT_EHE_YET = frozenset({State.AWAITING_CONSENT, State.NOTIFIED})
SEX_BREAKDOWN: dict[str, str] = {Sex.FEMALE: "Female", Sex.MALE: "Male", Sex.NOT_KNOWN: "Sex unknown"}
NO_SCHOOL = "No previous school known"
REGIONS = {
    "E12000001": "North East",
    "E12000002": "North West",
    "E12000003": "Yorkshire and The Humber",
    "E12000004": "East Midlands",
    "E12000005": "West Midlands",
    "E12000006": "East of England",
    "E12000007": "London",
    "E12000008": "South East",
    "E12000009": "South West",
}
CENSUS_COLUMNS = [
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "old_la_code",
    "new_la_code",
    "la_name",
    "breakdown_topic",
    "breakdown",
    "child_count",
    "child_percent",
    "rate_per_100",
]


@dataclass
class CensusCounts:
    census_date: date
    total: int = 0
    by_sex: Counter[str] = field(default_factory=Counter)
    by_year_group: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    missing_education: int = 0
    child_ids: list[int] = field(default_factory=list)


@dataclass
class PeriodCounts:
    starts: date
    ends: date
    starts_by_school_type: Counter[str] = field(default_factory=Counter)
    returns_to_school: int = 0
    s437_notices_served: int = 0
    attendance_orders_served: int = 0
    attendance_orders_revoked: int = 0


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone())


def state_on(census_date: date) -> Any:
    """The state a case was in on ``census_date``: where the last transition up to the end of that
    day took it, leaving out a closure (a case closed on the census date was open that day; one
    closed before it is left out by its closing date)."""
    last = (
        TransitionLog.objects.filter(episode=OuterRef("pk"), at__lt=_end_of(census_date))
        .exclude(to_state=State.CLOSED)
        .order_by("-at", "-id")
    )
    return Subquery(last.values("to_state")[:1])


def census_counts(local_authority: LocalAuthority, census_date: date) -> CensusCounts:
    """Children in EHE in the LA on ``census_date`` (see the module docstring for who counts)."""
    end = _end_of(census_date)
    episodes = (
        Episode.objects.filter(local_authority=local_authority, opened_at__lt=end)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__date__gte=census_date))
        .exclude(closure_reason=ClosureReason.DUPLICATE)
        .annotate(state_then=state_on(census_date))
        .values_list("child_id", "state_then", "reason_code", "child__date_of_birth", "child__sex")
    )
    reasons = reason_breakdowns()
    unknown = reasons.get(ReasonCode.UNKNOWN, "Unknown to the local authority")
    counts = CensusCounts(census_date=census_date)
    seen: set[int] = set()
    for child_id, state_then, reason_code, dob, sex in episodes:
        if child_id in seen or state_then is None or state_then in NOT_EHE_YET or state_then == State.CLOSED:
            continue
        if not is_compulsory_school_age(dob, census_date):
            continue
        seen.add(child_id)
        if state_then == State.MISSING_EDUCATION:
            counts.missing_education += 1
            continue
        counts.total += 1
        counts.child_ids.append(child_id)
        counts.by_sex[SEX_BREAKDOWN.get(sex, "Sex unknown")] += 1
        counts.by_year_group[year_group_label(year_group(dob, census_date))] += 1
        counts.by_reason[reasons.get(reason_code, unknown) if reason_code else unknown] += 1
    return counts


def reason_breakdowns() -> dict[str, str]:
    return {r.code: r.breakdown for r in ReasonCode.objects.all()}


def period_counts(local_authority: LocalAuthority, starts: date, ends: date) -> PeriodCounts:
    """What happened between ``starts`` and ``ends`` (both included)."""
    counts = PeriodCounts(starts=starts, ends=ends)
    new_cases = (
        Episode.objects.filter(local_authority=local_authority, received_on__gte=starts, received_on__lte=ends)
        .exclude(closure_reason=ClosureReason.DUPLICATE)
        .values_list("opened_by_school__type_name", flat=True)
    )
    counts.starts_by_school_type = Counter(school_type or NO_SCHOOL for school_type in new_cases)
    counts.returns_to_school = Episode.objects.filter(
        local_authority=local_authority,
        closure_reason=ClosureReason.RETURNED_TO_SCHOOL,
        closed_at__date__gte=starts,
        closed_at__date__lte=ends,
    ).count()
    logs = TransitionLog.objects.filter(episode__local_authority=local_authority).annotate(
        # The day served, as the officer recorded it; the day recorded when the payload lacks it.
        on=Coalesce(Cast(KeyTextTransform("served_on", "payload"), DateField()), TruncDate("at"))
    )
    in_period = logs.filter(on__gte=starts, on__lte=ends)
    counts.s437_notices_served = in_period.filter(transition="provision_unsuitable").count()
    counts.attendance_orders_served = in_period.filter(transition="sao_served").count()
    counts.attendance_orders_revoked = in_period.filter(transition="order_revoked").count()
    return counts


# Rounding and the DfE's conventions.


def rounded_count(n: int) -> str:
    """A count as the DfE publishes LA figures: to the nearest 10 (halves up); ``low`` for a count
    that is not 0 but rounds to 0."""
    if n == 0:
        return "0"
    rounded = int((Decimal(n) / 10).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * 10
    return "low" if rounded == 0 else str(rounded)


def percent(n: int, total: int) -> str:
    """Per cent of the total, whole numbers; ``x`` when there is no total."""
    if total == 0:
        return "x"
    value = (Decimal(100 * n) / total).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if value == 0 and n:
        return "<0.5"
    return str(value)


def rate_per_100(total: int, population: int | None) -> str:
    """Children in EHE per 100 children of school age in the LA; ``x`` when the population is not set."""
    if not population:
        return "x"
    return str((Decimal(100 * total) / population).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def academic_year(day: date) -> str:
    """The DfE's ``time_period`` for the academic year containing ``day``: 202526 for 2025/26."""
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}{(start + 1) % 100:02d}"


def term_of(day: date) -> str:
    if day.month >= 9:
        return "Autumn term"
    if day.month <= 3:
        return "Spring term"
    return "Summer term"


@cache
def _regions_by_la() -> dict[str, str]:
    with LAS_CSV.open(newline="", encoding="utf-8-sig") as handle:
        return {
            row["new_la_code"].strip(): row["parent_geography_code"].strip()
            for row in csv.DictReader(handle)
            if row.get("parent_geography_code")
        }


def census_rows(local_authority: LocalAuthority, counts: CensusCounts) -> list[list[str]]:
    """The LA's rows in the layout of the DfE's ``ehe_census.csv``."""
    region_code = _regions_by_la().get(local_authority.ons_code, "")
    prefix = [
        academic_year(counts.census_date),
        term_of(counts.census_date),
        "Local authority",
        "E92000001",
        "England",
        region_code,
        REGIONS.get(region_code, ""),
        local_authority.dfe_code,
        local_authority.ons_code,
        local_authority.name,
    ]
    total = counts.total
    rows = [
        [
            *prefix,
            "Total",
            "Total",
            rounded_count(total),
            percent(total, total) if total else "x",
            rate_per_100(total, local_authority.school_age_population),
        ]
    ]
    year_order = [year_group_label(n) for n in range(0, 12)]
    sections: list[tuple[str, list[str], Counter[str]]] = [
        ("Sex", list(SEX_BREAKDOWN.values()), counts.by_sex),
        ("Year group", year_order, counts.by_year_group),
        ("Primary reason", _reason_order(), counts.by_reason),
    ]
    for topic, order, counter in sections:
        for breakdown in order + sorted(set(counter) - set(order)):
            n = counter.get(breakdown, 0)
            rows.append([*prefix, topic, breakdown, rounded_count(n), percent(n, total), "x"])
    return rows


def _reason_order() -> list[str]:
    seen: list[str] = []
    for reason in ReasonCode.objects.filter(active=True).order_by("order", "label"):
        if reason.breakdown not in seen:
            seen.append(reason.breakdown)
    return seen


def collection_rows(census: CensusCounts, period: PeriodCounts) -> list[list[Any]]:
    """The LA's exact figures for the collection: measure, breakdown, count."""
    rows: list[list[Any]] = [
        ["Census date", counts_day(census.census_date), ""],
        ["Children in EHE on the census date", "Total", census.total],
    ]
    rows += [["Children in EHE by sex", k, v] for k, v in sorted(census.by_sex.items())]
    rows += [["Children in EHE by year group", k, v] for k, v in _by_year(census.by_year_group)]
    rows += [["Children in EHE by primary reason", k, v] for k, v in sorted(census.by_reason.items())]
    rows.append(["Children missing education on the census date (counted apart)", "Total", census.missing_education])
    rows.append(["Period", f"{counts_day(period.starts)} to {counts_day(period.ends)}", ""])
    rows += [["New EHE cases by previous school type", k, v] for k, v in sorted(period.starts_by_school_type.items())]
    rows.append(["Returns to school", "Total", period.returns_to_school])
    rows.append(["Section 437(1) notices served", "Total", period.s437_notices_served])
    rows.append(["School attendance orders served", "Total", period.attendance_orders_served])
    rows.append(["School attendance orders revoked", "Total", period.attendance_orders_revoked])
    return rows


def _by_year(counter: Counter[str]) -> list[tuple[str, int]]:
    order = {year_group_label(n): n for n in range(-1, 15)}
    return sorted(counter.items(), key=lambda kv: order.get(kv[0], 99))


def counts_day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"
