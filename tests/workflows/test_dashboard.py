"""The manager's dashboard: every figure and service level worked out from hand-built cases, the
chart's series, the queue each overdue figure links to, LA scoping and a query count that does
not grow with the number of officers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ehe_register.models import Absence, AbsenceKind, LocalAuthority, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON, add_working_days, at_local
from tests.factories import make_episode, make_user
from workflows.dashboard import (
    AGE_BANDS,
    Sla,
    SlaWeek,
    absences_today,
    cases_moved_today,
    dashboard_for,
    officer_loads,
    open_escalations_by_age,
    overdue_figures,
    service_levels,
    sla_chart,
    trend_weeks,
)
from workflows.models import Episode, Escalation, EscalationEvent, Review, TransitionLog
from workflows.overdue import ENQUIRY_STATES, OverdueClock, OverdueKind, latest_start
from workflows.states import ClosureReason, State
from workflows.sweeps import ENQUIRY_STATES as SWEEP_ENQUIRY_STATES

pytestmark = pytest.mark.django_db

# Wednesday 11 March 2026, mid-morning (no bank holiday near it).
NOW = datetime(2026, 3, 11, 10, 0, tzinfo=LONDON)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def manager(la: LocalAuthority) -> User:
    return make_user(Role.EHE_MANAGER, la, first_name="Mina", last_name="Manager")


@pytest.fixture
def clock(la: LocalAuthority) -> OverdueClock:
    return OverdueClock.of(la, NOW)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def escalation(episode: Episode, rule: str, **fields: Any) -> Escalation:
    values: dict[str, Any] = {
        "level": 1,
        "owner_role": Role.EHE_MANAGER.value,
        "raised_at": NOW - timedelta(hours=1),
        "due_at": NOW + timedelta(days=1),
        **fields,
    }
    return Escalation.objects.create(
        episode=episode, local_authority_id=episode.local_authority_id, rule=rule, **values
    )


def references(html: str) -> set[str]:
    return set(re.findall(r">(EHE-\d{3}-C\d{6})</a>", html))


def test_the_enquiry_clock_runs_in_the_same_states_as_the_rule() -> None:
    assert set(ENQUIRY_STATES) == set(SWEEP_ENQUIRY_STATES)


# ----------------------------------------------------------------------------------------------
# Overdue checks by kind


def overdue_cases(la: LocalAuthority) -> dict[OverdueKind, tuple[Episode, Episode]]:
    """For each kind: a case overdue by it, and the nearest case that is not."""
    contacted = {"first_contact_at": NOW - timedelta(days=1)}
    unverified_by = latest_start(TODAY, la.contacts_unverified_working_days)
    with time_machine.travel(at_local(date(2026, 3, 3), time(15)), tick=False):
        consent_late = make_episode(State.AWAITING_CONSENT, la=la, next_action_due=TODAY + timedelta(days=200))
    with time_machine.travel(at_local(date(2026, 3, 4), time(9)), tick=False):
        consent_in_time = make_episode(State.AWAITING_CONSENT, la=la, next_action_due=TODAY + timedelta(days=200))
    monitoring = {"review_due_on": TODAY + timedelta(days=200)}
    late_escalation = make_episode(State.MONITORING, la=la, **monitoring, next_action_due=TODAY + timedelta(days=200))
    escalation(late_escalation, "contacts_stale", due_at=NOW - timedelta(minutes=1))
    acknowledged = make_episode(State.MONITORING, la=la, **monitoring, next_action_due=TODAY + timedelta(days=200))
    escalation(acknowledged, "contacts_stale", due_at=NOW - timedelta(days=1), acknowledged_at=NOW - timedelta(days=2))
    return {
        OverdueKind.VERIFICATION: (
            make_episode(
                State.ADDRESS_VERIFICATION,
                la=la,
                received_on=unverified_by,
                **contacted,
                next_action_due=TODAY + timedelta(days=200),
            ),
            make_episode(
                State.ADDRESS_VERIFICATION,
                la=la,
                received_on=unverified_by + timedelta(days=1),
                **contacted,
                next_action_due=TODAY + timedelta(days=200),
            ),
        ),
        OverdueKind.ENQUIRY: (
            make_episode(
                State.EDUCATION_ENQUIRY,
                la=la,
                received_on=TODAY - timedelta(days=15),
                next_action_due=TODAY + timedelta(days=200),
            ),
            make_episode(
                State.EDUCATION_ENQUIRY,
                la=la,
                received_on=TODAY - timedelta(days=14),
                next_action_due=TODAY + timedelta(days=200),
            ),
        ),
        OverdueKind.REVIEW: (
            make_episode(
                State.MONITORING,
                la=la,
                review_due_on=TODAY - timedelta(days=1),
                next_action_due=TODAY + timedelta(days=200),
            ),
            make_episode(State.MONITORING, la=la, review_due_on=TODAY, next_action_due=TODAY + timedelta(days=200)),
        ),
        OverdueKind.CONSENT: (consent_late, consent_in_time),
        OverdueKind.ESCALATION: (late_escalation, acknowledged),
        OverdueKind.NEXT_ACTION: (
            make_episode(State.S437_NOTICE, la=la, next_action_due=TODAY - timedelta(days=1)),
            make_episode(State.S437_NOTICE, la=la, next_action_due=TODAY),
        ),
    }


def test_each_overdue_figure_counts_the_case_that_is_overdue_and_not_its_nearest_neighbour(
    la: LocalAuthority, other_la: LocalAuthority, manager: User, clock: OverdueClock
) -> None:
    overdue_cases(la)
    overdue_cases(other_la)  # another LA's cases are never counted

    figures = {figure.kind: figure.count for figure in overdue_figures(manager, clock)}

    assert figures == dict.fromkeys(OverdueKind, 1)


def test_a_case_late_on_its_own_clock_is_not_counted_again_as_a_next_action(
    la: LocalAuthority, manager: User, clock: OverdueClock
) -> None:
    # An education enquiry whose next step date passed is an overdue enquiry, and only that.
    make_episode(State.EDUCATION_ENQUIRY, la=la, received_on=TODAY - timedelta(days=40))

    figures = {figure.kind: figure.count for figure in overdue_figures(manager, clock)}

    assert figures[OverdueKind.ENQUIRY] == 1
    assert figures[OverdueKind.NEXT_ACTION] == 0


@pytest.mark.parametrize("kind", list(OverdueKind))
def test_an_overdue_figure_links_to_a_queue_of_exactly_those_cases(
    la: LocalAuthority, other_la: LocalAuthority, manager: User, kind: OverdueKind
) -> None:
    cases = overdue_cases(la)
    overdue_cases(other_la)
    client = client_for(manager)

    page = client.get(reverse("home")).content.decode()
    link = re.search(rf'href="([^"]+)" data-overdue="{kind.value}">(\d+)<', page)
    assert link is not None
    queue = client.get(link.group(1).replace("&amp;", "&")).content.decode()

    assert int(link.group(2)) == 1
    assert references(queue) == {cases[kind][0].reference}
    assert "1 case found" in queue


# ----------------------------------------------------------------------------------------------
# Officers, escalations, absences


def test_caseload_due_soon_and_overdue_per_officer_with_absent_officers_marked(
    la: LocalAuthority, other_la: LocalAuthority, manager: User, clock: OverdueClock
) -> None:
    olive = make_user(Role.EHE_OFFICER, la, first_name="Olive", last_name="Officer")
    absent = make_user(Role.EHE_OFFICER, la, first_name="Zara", last_name="Away")
    make_user(Role.EHE_OFFICER, la, first_name="Idle", last_name="Officer")
    Absence.objects.create(
        officer=absent, starts_on=TODAY, kind=AbsenceKind.UNEXPECTED, recorded_by=manager, recorded_at=NOW
    )
    horizon = add_working_days(TODAY, 5)
    s437 = State.S437_NOTICE
    make_episode(s437, la=la, assigned_officer=olive, next_action_due=TODAY - timedelta(days=1))  # overdue
    make_episode(s437, la=la, assigned_officer=olive, next_action_due=horizon)  # due soon
    make_episode(s437, la=la, assigned_officer=olive, next_action_due=horizon + timedelta(days=1))  # later
    make_episode(
        State.MONITORING, la=la, assigned_officer=olive, review_due_on=TODAY, next_action_due=TODAY
    )  # review due soon
    make_episode(State.CLOSED, la=la, assigned_officer=olive)  # closed: not a load
    make_episode(s437, la=la, assigned_officer=absent, next_action_due=TODAY)
    make_episode(s437, la=la, next_action_due=TODAY - timedelta(days=3))  # the team queue
    make_episode(s437, la=other_la, assigned_officer=olive, next_action_due=TODAY - timedelta(days=1))

    rows = {row.name: row for row in officer_loads(manager, clock)}

    assert [name for name in rows] == ["Idle Officer", "Olive Officer", "Zara Away", "Team queue (unassigned)"]
    olive_row = rows["Olive Officer"]
    assert (olive_row.caseload, olive_row.due_soon, olive_row.overdue, olive_row.absent) == (4, 2, 1, False)
    zara = rows["Zara Away"]
    assert (zara.caseload, zara.due_soon, zara.overdue, zara.absent) == (1, 1, 0, True)
    assert (rows["Idle Officer"].caseload, rows["Idle Officer"].absent) == (0, False)
    team = rows["Team queue (unassigned)"]
    assert (team.caseload, team.due_soon, team.overdue) == (1, 0, 1)


def test_open_escalations_by_rule_level_and_age(
    la: LocalAuthority, other_la: LocalAuthority, manager: User, clock: OverdueClock
) -> None:
    cases = [make_episode(State.MONITORING, la=la) for _ in range(5)]
    escalation(cases[0], "review_overdue", raised_at=NOW - timedelta(hours=3))  # under 1 day
    escalation(cases[1], "review_overdue", raised_at=NOW - timedelta(days=3), due_at=NOW - timedelta(hours=1))
    escalation(cases[2], "review_overdue", level=2, raised_at=NOW - timedelta(days=30))
    escalation(cases[3], "contacts_stale", raised_at=NOW - timedelta(days=6))
    escalation(cases[4], "contacts_stale", raised_at=NOW - timedelta(days=40), resolved_at=NOW)  # resolved
    escalation(cases[4], "officer_absent", raised_at=NOW)  # notify only
    escalation(make_episode(State.MONITORING, la=other_la), "review_overdue")

    rows = [(r.rule, r.level, r.total, r.overdue, r.by_age) for r in open_escalations_by_age(manager, clock)]

    assert [band.key for band in AGE_BANDS] == ["under_1", "days_1_5", "days_6_20", "over_20"]
    assert rows == [
        ("contacts_stale", 1, 1, 0, (0, 0, 1, 0)),
        ("review_overdue", 1, 2, 1, (1, 1, 0, 0)),
        ("review_overdue", 2, 1, 0, (0, 0, 0, 1)),
    ]


def test_todays_absences_and_the_cases_that_moved_today(
    la: LocalAuthority, other_la: LocalAuthority, manager: User, clock: OverdueClock
) -> None:
    away = make_user(Role.EHE_OFFICER, la, first_name="Zara", last_name="Away")
    back = make_user(Role.EHE_OFFICER, la, first_name="Ben", last_name="Back")
    Absence.objects.create(
        officer=away,
        starts_on=TODAY - timedelta(days=2),
        kind=AbsenceKind.PLANNED,
        recorded_by=manager,
        recorded_at=NOW,
    )
    Absence.objects.create(
        officer=back,
        starts_on=TODAY - timedelta(days=5),
        ends_on=TODAY - timedelta(days=1),
        kind=AbsenceKind.PLANNED,
        recorded_by=manager,
        recorded_at=NOW,
    )
    elsewhere = make_user(Role.EHE_OFFICER, other_la)
    Absence.objects.create(
        officer=elsewhere, starts_on=TODAY, kind=AbsenceKind.PLANNED, recorded_by=elsewhere, recorded_at=NOW
    )
    moved = make_episode(State.S437_NOTICE, la=la)
    moved_yesterday = make_episode(State.S437_NOTICE, la=la)
    today_row = escalation(moved, "officer_absent", raised_at=NOW - timedelta(hours=2), resolved_at=NOW)
    EscalationEvent.objects.create(
        escalation=today_row,
        kind="reassigned",
        level=1,
        actor_name="System",
        note="Moved from Zara Away (absent) to the team queue",
        at=NOW - timedelta(hours=2),
    )
    escalation(moved_yesterday, "officer_absent", raised_at=NOW - timedelta(days=1), resolved_at=NOW)

    assert [(a.officer_name, a.ends_on) for a in absences_today(manager, clock)] == [("Zara Away", None)]
    assert [(m.reference, m.note) for m in cases_moved_today(manager, clock)] == [
        (moved.reference, "Moved from Zara Away (absent) to the team queue")
    ]


# ----------------------------------------------------------------------------------------------
# Service levels


def week_of(sla: Sla, day: date) -> SlaWeek:
    monday = day - timedelta(days=day.weekday())
    [week] = [w for w in sla.weeks if w.week_start == monday]
    return week


def slas(manager: User, clock: OverdueClock) -> dict[str, Sla]:
    return {sla.key: sla for sla in service_levels(manager, clock)}


def test_the_trend_is_twelve_weeks_ending_with_this_one() -> None:
    weeks = trend_weeks(TODAY)
    assert len(weeks) == 12
    assert weeks[-1] == date(2026, 3, 9)
    assert weeks[0] == date(2025, 12, 22)
    assert all(w.weekday() == 0 for w in weeks)


def test_first_contact_within_k_days(
    la: LocalAuthority, other_la: LocalAuthority, manager: User, clock: OverdueClock
) -> None:
    received = date(2026, 2, 9)  # the 15-day clock runs out on Tuesday 24 February
    deadline = received + timedelta(days=15)
    on_time = at_local(deadline, time(16))
    late = at_local(deadline + timedelta(days=1), time(9))
    s = State.EDUCATION_ENQUIRY
    make_episode(s, la=la, received_on=received, first_contact_at=on_time)  # met
    make_episode(s, la=la, received_on=received + timedelta(days=1), first_contact_at=late)  # met (its own clock)
    make_episode(s, la=la, received_on=received, first_contact_at=late)  # missed
    make_episode(s, la=la, received_on=received)  # missed: never contacted
    make_episode(
        State.CLOSED, la=la, received_on=received, closed_at=at_local(received + timedelta(days=3), time(12))
    )  # closed first without contact: left out
    make_episode(
        State.CLOSED,
        la=la,
        received_on=received,
        closure_reason=ClosureReason.DUPLICATE,
        closure_text="Merged",
        first_contact_at=on_time,
    )  # a merged duplicate: left out
    make_episode(s, la=la, received_on=TODAY - timedelta(days=15))  # clock runs out today: still running
    make_episode(s, la=other_la, received_on=received, first_contact_at=on_time)

    sla = slas(manager, clock)["first_contact"]

    week = week_of(sla, deadline)
    assert (week.met, week.due, week.percent) == (2, 4, 50)
    assert (sla.met, sla.due) == (2, 4)
    assert "15" in sla.title
    assert "15" in sla.clock


def test_verification_within_n_working_days_from_the_transition_history(
    la: LocalAuthority, manager: User, clock: OverdueClock
) -> None:
    received = date(2026, 2, 2)
    deadline = add_working_days(received, la.contacts_unverified_working_days)  # Monday 16 February
    assert deadline == date(2026, 2, 16)
    s = State.EDUCATION_ENQUIRY
    make_episode(s, la=la, received_on=received, contacts_verified_at=at_local(deadline, time(16)))  # met
    make_episode(s, la=la, received_on=received, contacts_verified_at=at_local(deadline + timedelta(days=1), time(9)))
    # Verified again later (the details went stale): the first verification, in the log, counts.
    reverified = make_episode(s, la=la, received_on=received, contacts_verified_at=NOW - timedelta(days=1))
    TransitionLog.objects.create(
        episode=reverified,
        from_state=State.ADDRESS_VERIFICATION,
        to_state=State.EDUCATION_ENQUIRY,
        transition="contacts_verified",
        actor_name="System",
        at=at_local(deadline - timedelta(days=2), time(11)),
    )
    make_episode(State.ADDRESS_VERIFICATION, la=la, received_on=received)  # missed: never verified

    sla = slas(manager, clock)["verification"]

    week = week_of(sla, deadline)
    assert (week.met, week.due) == (2, 4)
    assert (sla.met, sla.due) == (2, 4)


def test_reviews_held_by_their_due_date(la: LocalAuthority, manager: User, clock: OverdueClock) -> None:
    due = date(2026, 2, 18)

    def reviewed(held_on: date, *, fell_due: bool = True) -> None:
        episode = make_episode(State.MONITORING, la=la)
        if fell_due:
            TransitionLog.objects.create(
                episode=episode,
                from_state=State.MONITORING,
                to_state=State.REVIEW_DUE,
                transition="review_falls_due",
                actor_name="System",
                at=at_local(due - timedelta(days=28), time(6)),
            )
        Review.objects.create(episode=episode, due_on=due, held_on=held_on, outcome="suitable")

    reviewed(due)  # met
    reviewed(due - timedelta(days=5))  # met
    reviewed(due + timedelta(days=1))  # missed
    reviewed(due + timedelta(days=3), fell_due=False)  # an enquiry outcome, not a periodic review: left out
    make_episode(State.REVIEW_DUE, la=la, review_due_on=due)  # not held: missed
    make_episode(State.REVIEW_DUE, la=la, review_due_on=TODAY)  # due today: still running

    sla = slas(manager, clock)["reviews"]

    assert (week_of(sla, due).met, week_of(sla, due).due) == (2, 4)
    assert (sla.met, sla.due) == (2, 4)


def test_concern_escalations_acknowledged_by_their_due_time(
    la: LocalAuthority, manager: User, clock: OverdueClock
) -> None:
    raised = at_local(date(2026, 3, 2), time(11))
    due = at_local(date(2026, 3, 2), time(17))

    def concern(rule: str = "concern_ticked", **fields: Any) -> Escalation:
        values = {"raised_at": raised, "due_at": due, **fields}
        return escalation(make_episode(State.SAFEGUARDING_REVIEW, la=la), rule, **values)

    concern(acknowledged_at=due - timedelta(hours=1))  # met
    concern("social_care_known", acknowledged_at=due, resolved_at=due)  # met, and decided
    concern(acknowledged_at=due + timedelta(minutes=5))  # missed: acknowledged late
    climbed = concern(level=2, due_at=NOW + timedelta(hours=5), acknowledged_at=NOW - timedelta(hours=1))
    EscalationEvent.objects.create(escalation=climbed, kind="climbed", level=2, actor_name="System", at=due)
    concern(due_at=NOW - timedelta(days=1))  # missed: never acknowledged
    concern(raised_at=NOW - timedelta(hours=1), due_at=NOW + timedelta(hours=6))  # still running
    escalation(make_episode(State.MONITORING, la=la), "review_overdue", raised_at=raised, due_at=due)  # not a concern

    sla = slas(manager, clock)["concerns"]

    assert (week_of(sla, raised.date()).met, week_of(sla, raised.date()).due) == (2, 5)
    assert (sla.met, sla.due) == (2, 5)


def test_the_chart_plots_each_weekly_percentage_and_breaks_the_line_where_nothing_was_due() -> None:
    weeks = trend_weeks(TODAY)
    figures = [(1, 2), (0, 0), (3, 4), (4, 4)] + [(0, 0)] * 7 + [(0, 1)]
    sla = Sla(
        key="first_contact",
        title="First contact",
        numerator="n",
        denominator="d",
        clock="c",
        weeks=[SlaWeek(start, met, due) for start, (met, due) in zip(weeks, figures, strict=True)],
    )

    chart = sla_chart([sla], width=600, height=240)

    [series] = chart.series
    left, right, top, bottom = chart.left, chart.right, chart.top, chart.bottom
    step = (right - left) / 11

    def y(percent: int) -> float:
        return round(bottom - (bottom - top) * percent / 100, 1)

    assert [p[2] for p in series.points] == [50, 75, 100, 0]
    assert [p[0] for p in series.points] == [round(left + i * step, 1) for i in (0, 2, 3, 11)]
    assert [p[1] for p in series.points] == [y(50), y(75), y(100), y(0)]
    assert len(series.segments) == 3  # week 2 and weeks 5-11 had nothing due
    assert len(series.markers) == 4
    assert [label for _, label in chart.x_labels] == weeks


# ----------------------------------------------------------------------------------------------
# The page


def test_the_page_shows_the_service_levels_with_their_numerators_denominators_clocks_and_table(
    la: LocalAuthority, manager: User
) -> None:
    enquiry = make_episode(State.EDUCATION_ENQUIRY, la=la, received_on=date(2026, 2, 9))

    page = client_for(manager).get(reverse("cases:dashboard")).content.decode()

    assert page.count(">Numerator</dt>") == 4
    assert page.count(">Denominator</dt>") == 4
    assert page.count(">Clock</dt>") == 4
    assert "First contact within 15 days: 0 of 1 (0%)" in page
    assert '<svg xmlns="http://www.w3.org/2000/svg" viewBox' in page
    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    assert "style=" not in main
    assert "<script" not in main
    assert 'id="sla-table"' in page
    assert "23 February 2026" in page  # a week of the table
    # The enquiry's first-contact clock has run out and no escalation is open: the integrity check says so.
    assert "The integrity check found 1 problem." in page
    assert f'<a class="govuk-link" href="/cases/{enquiry.pk}/">{enquiry.reference}</a>' in page


def test_head_of_service_sees_the_dashboard_without_the_managers_links(la: LocalAuthority) -> None:
    head = make_user(Role.HEAD_OF_SERVICE, la)

    page = client_for(head).get(reverse("home")).content.decode()

    assert "Manager dashboard" in page
    assert 'href="/cases/absences/"' not in page


def test_a_manager_home_keeps_the_queue_and_manager_links(la: LocalAuthority, manager: User) -> None:
    make_episode(State.AWAITING_CONSENT, la=la)

    page = client_for(manager).get(reverse("home")).content.decode()

    assert re.search(r"Awaiting consent</a>: 1 case\b", page)
    for url in ("/cases/new/", "/cases/merge/", "/cases/absences/"):
        assert f'href="{url}"' in page


def _team(la: LocalAuthority, manager: User, officers: int) -> None:
    """``officers`` officers, each with cases of every kind, an escalation and some absent."""
    for i in range(officers):
        officer = make_user(Role.EHE_OFFICER, la, first_name="Officer", last_name=f"Number{i}")
        if i % 4 == 0:
            Absence.objects.create(
                officer=officer, starts_on=TODAY, kind=AbsenceKind.PLANNED, recorded_by=manager, recorded_at=NOW
            )
        late = make_episode(
            State.S437_NOTICE, la=la, assigned_officer=officer, next_action_due=TODAY - timedelta(days=1)
        )
        escalation(late, "review_overdue", owner_role="", owner_user=officer, due_at=NOW - timedelta(hours=i))
        later = TODAY + timedelta(days=200)  # their own kinds are overdue; their next action is not
        make_episode(
            State.MONITORING,
            la=la,
            assigned_officer=officer,
            review_due_on=TODAY - timedelta(days=i + 1),
            next_action_due=later,
        )
        make_episode(
            State.EDUCATION_ENQUIRY,
            la=la,
            assigned_officer=officer,
            received_on=TODAY - timedelta(days=30),
            next_action_due=later,
        )


def _queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("cases:dashboard"))
    assert response.status_code == 200
    return len(queries)


MAX_QUERIES = 40


def test_the_dashboard_runs_the_same_queries_with_5_or_50_officers(
    la: LocalAuthority, manager: User, django_assert_max_num_queries: Any
) -> None:
    client = client_for(manager)
    _team(la, manager, 5)
    small = _queries(client)
    _team(la, manager, 45)

    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(reverse("cases:dashboard"))
    large = _queries(client)

    assert response.status_code == 200
    assert small == large
    figures = dict(re.findall(r'data-overdue="(\w+)">(\d+)<', response.content.decode()))
    assert figures["next_action"] == "50"
    assert figures["review"] == "50"


def test_dashboard_for_reads_only_the_users_la(la: LocalAuthority, other_la: LocalAuthority, manager: User) -> None:
    other_manager = make_user(Role.EHE_MANAGER, other_la)
    _team(other_la, other_manager, 3)

    dashboard = dashboard_for(manager, as_of=NOW)

    assert all(figure.count == 0 for figure in dashboard.overdue)
    assert [row.name for row in dashboard.officers] == ["Team queue (unassigned)"]
    assert dashboard.escalations == []
    assert dashboard.absences == []
    assert all(sla.due == 0 for sla in dashboard.slas)
