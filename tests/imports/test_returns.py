"""The DfE termly return: who counts on the census date, the year-group and school-age edges,
the period counts, rounding, ``low`` and the ``x`` rate."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.utils import timezone

from ehe_register.models import LocalAuthority, Sex
from ehe_register.roles import Role
from imports.returns import (
    census_counts,
    census_rows,
    percent,
    period_counts,
    rate_per_100,
    rounded_count,
)
from tests.factories import ChildFactory, make_episode, make_user
from workflows.models import TransitionLog
from workflows.services.transitions import episode_transition
from workflows.states import ClosureReason, State

pytestmark = pytest.mark.django_db
CENSUS = date(2025, 10, 2)  # first Thursday of October 2025


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=timezone.get_current_timezone())


def _case(
    la: LocalAuthority, dob: date, state: str = State.MONITORING, *, opened: date = date(2025, 9, 10), **fields: object
):
    child = ChildFactory(local_authority=la, date_of_birth=dob, sex=fields.pop("sex", Sex.FEMALE))
    # The import's TransitionLog row is stamped with the clock: tests move it to the opening day.
    return make_episode(state, child=child, opened_at=_at(opened), **fields)


def test_year_group_boundary_on_the_census_date(la: LocalAuthority, time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to(_at(date(2025, 9, 10)))
    _case(la, date(2014, 8, 31))  # youngest of Year 7 in 2025/26
    _case(la, date(2014, 9, 1))  # oldest of Year 6
    _case(la, date(2014, 9, 1), sex=Sex.MALE)
    time_machine.move_to(_at(date(2025, 11, 1)))
    counts = census_counts(la, CENSUS)
    assert counts.total == 3
    assert counts.by_year_group == {"Year 7": 1, "Year 6": 2}
    assert counts.by_sex == {"Female": 2, "Male": 1}


def test_who_counts_on_the_census_date(la: LocalAuthority, time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to(_at(date(2025, 9, 10)))
    counted = _case(la, date(2013, 5, 5), reason_code="mental_health")
    _case(la, date(2013, 5, 5), State.MISSING_EDUCATION)  # counted apart
    _case(la, date(2013, 5, 5), State.AWAITING_CONSENT)  # still on roll
    closed_before = _case(la, date(2013, 5, 5), State.CLOSED, closed_at=_at(date(2025, 10, 1)))
    closed_on_the_day = _case(la, date(2013, 5, 5))
    # Compulsory school age: 5 on 1 April 2020 -> from 31 August 2020 (counted); born 1 September
    # 2020 -> not yet (5 on 1 September 2025, from 31 December 2025).
    _case(la, date(2020, 4, 1))
    _case(la, date(2020, 9, 1))
    # Turned 16 in 2024/25: no longer of compulsory school age in October 2025.
    _case(la, date(2009, 6, 1))
    time_machine.move_to(_at(CENSUS))
    episode_transition(
        episode_id=closed_on_the_day.pk,
        transition="close",
        actor=make_user(Role.EHE_OFFICER, la),
        expected_version=None,
        closure_reason=ClosureReason.RETURNED_TO_SCHOOL,
    )
    time_machine.move_to(_at(date(2025, 10, 20)))
    _case(la, date(2013, 5, 5), opened=date(2025, 10, 20))  # opened after the census date
    counts = census_counts(la, CENSUS)
    assert counts.missing_education == 1
    # counted, closed on the day (it was open that day), and the child who is 5.
    assert counts.total == 3
    assert counted.child_id in counts.child_ids
    assert closed_on_the_day.child_id in counts.child_ids
    assert closed_before.child_id not in counts.child_ids
    assert counts.by_reason["Mental health"] == 1
    assert counts.by_reason["Unknown to the local authority"] == 2  # no reason recorded


def test_the_state_on_the_census_date_not_today(la: LocalAuthority, time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to(_at(date(2025, 9, 10)))
    episode = _case(la, date(2013, 5, 5), State.EDUCATION_ENQUIRY)
    time_machine.move_to(_at(date(2025, 10, 10)))
    officer = make_user(Role.EHE_OFFICER, la)
    episode_transition(episode_id=episode.pk, transition="cannot_locate", actor=officer, expected_version=None)
    counts = census_counts(la, CENSUS)
    assert (counts.total, counts.missing_education) == (1, 0)


def test_period_counts(la: LocalAuthority, time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to(_at(date(2025, 9, 10)))
    s437 = _case(la, date(2013, 5, 5), State.S437_NOTICE)
    _case(
        la,
        date(2013, 5, 5),
        State.CLOSED,
        closure_reason=ClosureReason.RETURNED_TO_SCHOOL,
        closed_at=_at(date(2025, 9, 20)),
    )
    _case(
        la,
        date(2013, 5, 5),
        State.CLOSED,
        closure_reason=ClosureReason.RETURNED_TO_SCHOOL,
        closed_at=_at(date(2025, 12, 20)),
    )
    for transition, served in (
        ("provision_unsuitable", "2025-09-15"),
        ("sao_served", "2025-10-01"),
        ("sao_served", "2025-12-30"),
    ):
        TransitionLog.objects.create(
            episode=s437,
            from_state=State.S437_NOTICE,
            to_state=State.S437_NOTICE,
            transition=transition,
            actor_name="Test",
            payload={"served_on": served},
            at=timezone.now(),
        )
    TransitionLog.objects.create(
        episode=s437,
        from_state=State.ATTENDANCE_ORDER,
        to_state=State.MONITORING,
        transition="order_revoked",
        actor_name="Test",
        at=_at(date(2025, 10, 1)),
    )
    counts = period_counts(la, date(2025, 9, 1), date(2025, 10, 2))
    assert counts.returns_to_school == 1
    assert counts.s437_notices_served == 1
    assert counts.attendance_orders_served == 1
    assert counts.attendance_orders_revoked == 1


@pytest.mark.parametrize(
    ("n", "shown"),
    [(0, "0"), (1, "low"), (4, "low"), (5, "10"), (14, "10"), (15, "20"), (1234, "1230"), (1235, "1240")],
)
def test_rounding_to_the_nearest_ten_and_low(n: int, shown: str) -> None:
    assert rounded_count(n) == shown


def test_rate_per_100_and_x_without_a_population() -> None:
    assert rate_per_100(150, 10_000) == "1.5"
    assert rate_per_100(150, None) == "x"
    assert percent(1, 300) == "<0.5"
    assert percent(150, 300) == "50"
    assert percent(0, 0) == "x"


def test_census_rows_in_the_dfe_layout(la: LocalAuthority, time_machine) -> None:  # type: ignore[no-untyped-def]
    time_machine.move_to(_at(date(2025, 9, 10)))
    for _ in range(3):
        _case(la, date(2013, 5, 5), reason_code="philosophical")
    rows = census_rows(la, census_counts(la, CENSUS))
    total = rows[0]
    assert total[:10] == [
        "202526",
        "Autumn term",
        "Local authority",
        "E92000001",
        "England",
        "E12000008",
        "South East",
        "936",
        "E10000030",
        "Surrey",
    ]
    assert total[10:] == ["Total", "Total", "low", "100", "x"]
    reasons = {r[11]: r[12] for r in rows if r[10] == "Primary reason"}
    assert reasons["Philosophical or preferential reasons"] == "low"
    assert reasons["Mental health"] == "0"
    la.school_age_population = 200
    la.save()
    assert census_rows(la, census_counts(la, CENSUS))[0][14] == "1.5"
