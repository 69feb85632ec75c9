"""Tests for ehe_register.working_days: pure functions, no database, no clock."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ehe_register import working_days
from ehe_register.working_days import (
    DEFAULT_OFFICE_HOURS,
    LONDON,
    OfficeHours,
    OfficeHoursSettings,
    add_working_days,
    at_local,
    due_after_working_days,
    due_end_of_working_day,
    is_working_day,
    next_working_day,
    working_days_between,
)


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 11, 28),  # Saturday
        date(2026, 11, 29),  # Sunday
        date(2022, 12, 25),  # Christmas Day on a Sunday
        date(2022, 12, 26),  # Boxing Day (Monday)
        date(2022, 12, 27),  # substitute for Christmas Day (Tuesday)
        date(2027, 12, 27),  # substitute for Christmas Day (Saturday)
        date(2027, 12, 28),  # substitute for Boxing Day (Sunday)
        date(2026, 12, 25),
        date(2026, 12, 28),  # substitute for Boxing Day on a Saturday
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2027, 3, 26),  # Good Friday
        date(2027, 3, 29),  # Easter Monday
        date(2022, 9, 19),  # State funeral of Queen Elizabeth II
        date(2023, 5, 8),  # Coronation of King Charles III
        date(2022, 6, 3),  # Platinum Jubilee
        date(2027, 1, 1),  # New Year's Day
        date(2023, 1, 2),  # substitute for New Year's Day on a Sunday
        date(2026, 5, 4),  # Early May
        date(2026, 5, 25),  # Spring
        date(2026, 8, 31),  # Summer
    ],
)
def test_not_a_working_day(day: date) -> None:
    assert not is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 11, 27),  # Friday
        date(2026, 11, 30),  # Monday
        date(2026, 12, 24),  # Christmas Eve is a working day
        date(2026, 12, 29),
        date(2022, 12, 28),
        date(2027, 12, 29),
        date(2022, 9, 20),
        date(2023, 5, 9),
        date(2026, 4, 2),  # Maundy Thursday
        date(2026, 4, 7),
        date(2026, 3, 30),  # Monday after the clocks go forward
        date(2026, 10, 26),  # Monday after the clocks go back
        date(2027, 1, 4),
    ],
)
def test_working_day(day: date) -> None:
    assert is_working_day(day)


def test_bank_holidays_are_cached_per_year() -> None:
    assert working_days._bank_holidays(2026) is working_days._bank_holidays(2026)
    assert date(2026, 12, 25) in working_days._bank_holidays(2026)
    assert date(2026, 12, 25) not in working_days._bank_holidays(2027)


def test_a_datetime_is_refused_where_a_date_is_meant() -> None:
    with pytest.raises(TypeError):
        is_working_day(london(2026, 12, 25, 12))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 26), date(2026, 11, 27)),  # Thursday -> Friday
        (date(2026, 11, 27), date(2026, 11, 30)),  # Friday -> Monday
        (date(2026, 11, 28), date(2026, 11, 30)),  # Saturday -> Monday
        (date(2026, 11, 30), date(2026, 12, 1)),  # strictly after, even on a working day
        (date(2026, 12, 24), date(2026, 12, 29)),
        (date(2022, 12, 23), date(2022, 12, 28)),
        (date(2027, 12, 24), date(2027, 12, 29)),
        (date(2026, 4, 2), date(2026, 4, 7)),  # over Easter
        (date(2022, 9, 16), date(2022, 9, 20)),
        (date(2023, 5, 5), date(2023, 5, 9)),
        (date(2026, 12, 31), date(2027, 1, 4)),  # over the year end and New Year's Day
    ],
)
def test_next_working_day(day: date, expected: date) -> None:
    assert next_working_day(day) == expected


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        (date(2026, 11, 30), 0, date(2026, 11, 30)),
        (date(2026, 11, 28), 0, date(2026, 11, 30)),
        (date(2026, 12, 25), 0, date(2026, 12, 29)),
        (date(2026, 11, 27), 1, date(2026, 11, 30)),
        (date(2026, 11, 28), 1, date(2026, 11, 30)),
        (date(2026, 11, 30), 5, date(2026, 12, 7)),
        (date(2026, 12, 21), 5, date(2026, 12, 30)),
        (date(2026, 12, 21), 10, date(2027, 1, 7)),
        (date(2022, 12, 23), 1, date(2022, 12, 28)),
    ],
)
def test_add_working_days(day: date, n: int, expected: date) -> None:
    assert add_working_days(day, n) == expected


def test_add_working_days_refuses_negative() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        add_working_days(date(2026, 11, 30), -1)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 11, 27), date(2026, 11, 30), 1),
        (date(2026, 11, 30), date(2026, 11, 30), 0),
        (date(2026, 11, 30), date(2026, 11, 27), 0),
        (date(2026, 11, 28), date(2026, 11, 29), 0),
        (date(2026, 11, 29), date(2026, 11, 30), 1),
        (date(2026, 12, 21), date(2027, 1, 4), 7),
        (date(2026, 1, 1), date(2026, 12, 31), 253),
    ],
)
def test_working_days_between(start: date, end: date, expected: int) -> None:
    assert working_days_between(start, end) == expected


@pytest.mark.parametrize("n", [1, 2, 5, 10, 20])
def test_working_days_between_inverts_add_working_days(n: int) -> None:
    start = date(2026, 12, 1)
    for offset in range(60):
        day = start + timedelta(days=offset)
        assert working_days_between(day, add_working_days(day, n)) == n


# ---------------------------------------------------------------------------------------------
# Local time
# ---------------------------------------------------------------------------------------------


def test_at_local_is_aware_in_london() -> None:
    summer = at_local(date(2026, 7, 1), time(17, 0))
    winter = at_local(date(2026, 12, 1), time(17, 0))
    assert summer.tzinfo is LONDON
    assert summer.utcoffset() == timedelta(hours=1)
    assert winter.utcoffset() == timedelta(0)
    assert summer == utc(2026, 7, 1, 16)
    assert winter == utc(2026, 12, 1, 17)


def test_at_local_ignores_tzinfo_on_the_time() -> None:
    assert at_local(date(2026, 7, 1), time(17, 0, tzinfo=UTC)) == utc(2026, 7, 1, 16)


def test_default_office_hours() -> None:
    assert DEFAULT_OFFICE_HOURS.office_opens == time(9, 0)
    assert DEFAULT_OFFICE_HOURS.office_closes == time(17, 0)
    assert DEFAULT_OFFICE_HOURS.same_day_cutoff == time(16, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_OFFICE_HOURS.office_closes = time(18, 0)  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# concern_ticked: end of the working day, or 10:00 next working day after the cut-off
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (london(2026, 11, 30, 15, 59), london(2026, 11, 30, 17)),  # Monday before the cut-off
        (london(2026, 11, 27, 15, 59), london(2026, 11, 27, 17)),  # Friday before the cut-off
        (london(2026, 11, 30, 7, 0), london(2026, 11, 30, 17)),  # before the office opens
        (london(2026, 11, 30, 0, 0), london(2026, 11, 30, 17)),
        (london(2026, 11, 27, 16, 0), london(2026, 11, 30, 10)),  # at the cut-off: Monday 10:00
        (london(2026, 11, 27, 16, 55), london(2026, 11, 30, 10)),
        (london(2026, 11, 27, 23, 59), london(2026, 11, 30, 10)),
        (london(2026, 12, 24, 16, 55), london(2026, 12, 29, 10)),  # Christmas Eve: Tuesday 29th
        (london(2026, 12, 24, 15, 0), london(2026, 12, 24, 17)),
        (london(2026, 11, 28, 11, 0), london(2026, 11, 30, 10)),  # Saturday
        (london(2026, 11, 29, 23, 30), london(2026, 11, 30, 10)),  # Sunday night
        (london(2026, 12, 28, 9, 30), london(2026, 12, 29, 10)),  # substitute bank holiday
        (london(2026, 4, 3, 10, 0), london(2026, 4, 7, 10)),  # Good Friday -> Tuesday after Easter Monday
        (london(2022, 9, 19, 12, 0), london(2022, 9, 20, 10)),  # state funeral
        (london(2023, 5, 8, 12, 0), london(2023, 5, 9, 10)),  # coronation
    ],
)
def test_due_end_of_working_day(as_of: datetime, expected: datetime) -> None:
    due = due_end_of_working_day(as_of, DEFAULT_OFFICE_HOURS)
    assert due == expected
    assert due.tzinfo is LONDON
    assert due > as_of


def test_concern_in_utc_is_read_in_london_time_in_summer() -> None:
    # 15:30 UTC is 16:30 BST: after the cut-off, though the UTC clock says before it.
    due = due_end_of_working_day(utc(2026, 7, 1, 15, 30), DEFAULT_OFFICE_HOURS)
    assert due == london(2026, 7, 2, 10)
    assert due == utc(2026, 7, 2, 9)
    # 14:59 UTC is 15:59 BST: due 17:00 BST, which is 16:00 UTC.
    assert due_end_of_working_day(utc(2026, 7, 1, 14, 59), DEFAULT_OFFICE_HOURS) == utc(2026, 7, 1, 16)


def test_concern_just_after_london_midnight_belongs_to_the_london_day() -> None:
    # Thursday 23:30 UTC is Friday 00:30 BST: a working day before the cut-off.
    assert due_end_of_working_day(utc(2026, 7, 2, 23, 30), DEFAULT_OFFICE_HOURS) == london(2026, 7, 3, 17)


def test_concern_in_another_zone() -> None:
    new_york = ZoneInfo("America/New_York")
    # 11:30 in New York on Monday 30 November 2026 is 16:30 in London.
    as_of = datetime(2026, 11, 30, 11, 30, tzinfo=new_york)
    assert due_end_of_working_day(as_of, DEFAULT_OFFICE_HOURS) == london(2026, 12, 1, 10)


def test_concern_over_the_spring_clock_change() -> None:
    # Friday 27 March 2026 16:30 GMT; clocks go forward on Sunday 29 March.
    due = due_end_of_working_day(london(2026, 3, 27, 16, 30), DEFAULT_OFFICE_HOURS)
    assert due == london(2026, 3, 30, 10)
    assert due.utcoffset() == timedelta(hours=1)
    assert due == utc(2026, 3, 30, 9)


def test_concern_over_the_autumn_clock_change() -> None:
    # Friday 23 October 2026 16:30 BST; clocks go back on Sunday 25 October.
    due = due_end_of_working_day(london(2026, 10, 23, 16, 30), DEFAULT_OFFICE_HOURS)
    assert due == london(2026, 10, 26, 10)
    assert due.utcoffset() == timedelta(0)
    assert due == utc(2026, 10, 26, 10)


def test_concern_during_the_repeated_hour() -> None:
    # 01:30 on Sunday 25 October 2026 happens twice (00:30 and 01:30 UTC); both are a Sunday.
    for as_of in (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)):
        assert due_end_of_working_day(as_of, DEFAULT_OFFICE_HOURS) == utc(2026, 10, 26, 10)


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_end_of_working_day(datetime(2026, 11, 30, 12, 0), DEFAULT_OFFICE_HOURS)
    with pytest.raises(ValueError, match="timezone-aware"):
        due_after_working_days(datetime(2026, 11, 30, 12, 0), 1, DEFAULT_OFFICE_HOURS)


@dataclasses.dataclass
class LongDayHours:
    """An LA's own hours, as a plain (mutable) dataclass: it must still satisfy OfficeHours."""

    office_opens: time = time(8, 0)
    office_closes: time = time(18, 30)
    same_day_cutoff: time = time(17, 0)


def test_custom_office_hours() -> None:
    hours: OfficeHours = LongDayHours()
    assert due_end_of_working_day(london(2026, 11, 30, 16, 30), hours) == london(2026, 11, 30, 18, 30)
    assert due_end_of_working_day(london(2026, 11, 30, 17, 0), hours) == london(2026, 12, 1, 10)
    assert due_after_working_days(london(2026, 11, 30, 12, 0), 1, hours) == london(2026, 12, 1, 18, 30)


def test_custom_frozen_office_hours() -> None:
    hours = OfficeHoursSettings(office_closes=time(16, 30), same_day_cutoff=time(14, 0))
    assert due_end_of_working_day(london(2026, 11, 30, 13, 59), hours) == london(2026, 11, 30, 16, 30)
    assert due_end_of_working_day(london(2026, 11, 30, 14, 0), hours) == london(2026, 12, 1, 10)


def test_cutoff_after_closing_time_never_gives_a_past_due_time() -> None:
    hours = OfficeHoursSettings(office_closes=time(17, 0), same_day_cutoff=time(18, 0))
    as_of = london(2026, 11, 30, 17, 30)
    due = due_end_of_working_day(as_of, hours)
    assert due == london(2026, 12, 1, 10)
    assert due > as_of


# ---------------------------------------------------------------------------------------------
# Due after n working days
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "n", "expected"),
    [
        (london(2026, 11, 27, 12), 1, london(2026, 11, 30, 17)),
        (london(2026, 11, 27, 23, 59), 1, london(2026, 11, 30, 17)),
        (london(2026, 11, 27, 12), 5, london(2026, 12, 4, 17)),
        (london(2026, 11, 28, 12), 1, london(2026, 11, 30, 17)),  # Saturday
        (london(2026, 12, 24, 9), 1, london(2026, 12, 29, 17)),
        (london(2026, 12, 24, 9), 2, london(2026, 12, 30, 17)),
        (london(2026, 12, 18, 9), 10, london(2027, 1, 6, 17)),
        (london(2026, 4, 2, 9), 1, london(2026, 4, 7, 17)),  # over Easter
        (london(2026, 3, 27, 12), 1, utc(2026, 3, 30, 16)),  # GMT -> BST
        (london(2026, 10, 23, 12), 1, utc(2026, 10, 26, 17)),  # BST -> GMT
        (utc(2026, 7, 2, 23, 30), 1, london(2026, 7, 6, 17)),  # Friday 00:30 in London
    ],
)
def test_due_after_working_days(as_of: datetime, n: int, expected: datetime) -> None:
    due = due_after_working_days(as_of, n, DEFAULT_OFFICE_HOURS)
    assert due == expected
    assert due.tzinfo is LONDON


@pytest.mark.parametrize("n", [0, -1])
def test_due_after_working_days_needs_at_least_one(n: int) -> None:
    with pytest.raises(ValueError, match="1 or more"):
        due_after_working_days(london(2026, 11, 30, 12), n, DEFAULT_OFFICE_HOURS)
