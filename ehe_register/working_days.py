"""Working days and due times for the escalation rules (DESIGN.md section 5).

Due dates are computed in Python when an event happens and then stored, so sweeps only compare
stored values with an ``as_of`` time. For that to be testable the current time is always an
argument here and never read from the clock. Working days follow the England-and-Wales bank
holiday calendar from the maintained ``holidays`` package (including substitute days and one-off
holidays such as a state funeral) rather than a hand-written list that would silently go stale.

All times are timezone-aware. Office hours are wall-clock times in Europe/London, so ``as_of`` is
converted to London time before its date and time are read, and due times are built in London
time: "17:00" stays 17:00 on either side of a BST/GMT change.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")

#: When a concern ticked after the cut-off (or on a non-working day) is due on the next working day.
NEXT_WORKING_DAY_DUE = time(10, 0)

_SATURDAY = 5


class OfficeHours(Protocol):
    """An LA's office hours; satisfied by ``DEFAULT_OFFICE_HOURS`` and by an LA's settings.

    Declared as read-only properties so frozen dataclasses and model instances both conform.
    """

    @property
    def office_opens(self) -> time: ...

    @property
    def office_closes(self) -> time: ...

    @property
    def same_day_cutoff(self) -> time: ...


@dataclass(frozen=True)
class OfficeHoursSettings:
    """Concrete office hours; the defaults are the DESIGN defaults (09:00-17:00, cut-off 16:00)."""

    office_opens: time = time(9, 0)
    office_closes: time = time(17, 0)
    same_day_cutoff: time = time(16, 0)


DEFAULT_OFFICE_HOURS = OfficeHoursSettings()


@functools.cache
def _bank_holidays(year: int) -> frozenset[date]:
    """England-and-Wales bank holidays of one year (cached: the calendar is looked up constantly)."""
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def _require_date(day: date) -> None:
    """Refuse a datetime where a date is meant: it would never equal a holiday date and pass silently."""
    if isinstance(day, datetime):
        raise TypeError("Pass a date, not a datetime (convert to London time and take .date())")


def _require_aware(moment: datetime) -> None:
    """Refuse naive datetimes: their wall-clock time could be in any zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("as_of must be a timezone-aware datetime")


def is_working_day(day: date) -> bool:
    """Monday to Friday and not an England-and-Wales bank holiday."""
    _require_date(day)
    return day.weekday() < _SATURDAY and day not in _bank_holidays(day.year)


def next_working_day(day: date) -> date:
    """The first working day strictly after ``day``."""
    _require_date(day)
    candidate = day + timedelta(days=1)
    while not is_working_day(candidate):
        candidate += timedelta(days=1)
    return candidate


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after ``day``; for n = 0, ``day`` itself if it is a working day, else
    the next working day. So a deadline of "5 working days" from a Saturday counts Monday as day 1.
    """
    _require_date(day)
    if n < 0:
        raise ValueError("n must be 0 or more")
    if n == 0:
        return day if is_working_day(day) else next_working_day(day)
    result = day
    for _ in range(n):
        result = next_working_day(result)
    return result


def working_days_between(start: date, end: date) -> int:
    """How many working days d satisfy start < d <= end (0 when end is not after start).

    The inverse of ``add_working_days``: ``working_days_between(d, add_working_days(d, n)) == n``
    for n >= 1, which is what "contacts not verified N working days after receipt" needs.
    """
    _require_date(start)
    _require_date(end)
    count = 0
    day = start + timedelta(days=1)
    while day <= end:
        count += is_working_day(day)
        day += timedelta(days=1)
    return count


def at_local(day: date, t: time) -> datetime:
    """An aware datetime for wall-clock time ``t`` on ``day`` in Europe/London.

    Any tzinfo on ``t`` is ignored: office times are London wall-clock times by definition.
    """
    _require_date(day)
    return datetime.combine(day, t.replace(tzinfo=None), tzinfo=LONDON)


def due_end_of_working_day(as_of: datetime, hours: OfficeHours) -> datetime:
    """Due time for the ``concern_ticked`` rule.

    On a working day before the same-day cut-off: office closing time that day, so the duty worker
    still has time to act. After the cut-off, or on a non-working day: 10:00 on the next working
    day. A cut-off later than closing time is treated as closing time, so the due time is never
    already past when it is set.
    """
    _require_aware(as_of)
    local = as_of.astimezone(LONDON)
    today = local.date()
    cutoff = min(hours.same_day_cutoff, hours.office_closes)
    if is_working_day(today) and local.time() < cutoff:
        return at_local(today, hours.office_closes)
    return at_local(next_working_day(today), NEXT_WORKING_DAY_DUE)


def due_after_working_days(as_of: datetime, n: int, hours: OfficeHours) -> datetime:
    """Office closing time on the date n working days (n >= 1) after ``as_of``'s London date."""
    _require_aware(as_of)
    if n < 1:
        raise ValueError("n must be 1 or more")
    return at_local(add_working_days(as_of.astimezone(LONDON).date(), n), hours.office_closes)
