"""The officer queues: what each holds and in what order, search and filters, masking, and a
query count that does not grow with the data."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from ehe_register.models import (
    Address,
    AddressKind,
    LocalAuthority,
    MatchStatus,
    OffRollNotification,
    PossibleMatch,
    ReasonCode,
    RemovalStatus,
    Routing,
    User,
)
from ehe_register.roles import Role
from tests.clock import stay_on
from tests.factories import AddressFactory, ChildFactory, SchoolFactory, make_episode, make_user
from workflows.models import Episode, Escalation
from workflows.selectors import QUEUES
from workflows.states import State

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
on_today = stay_on(TODAY)


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la, first_name="Olive", last_name="Officer")


@pytest.fixture
def manager(la: LocalAuthority) -> User:
    return make_user(Role.EHE_MANAGER, la, first_name="Mina", last_name="Manager")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def references(html: str) -> list[str]:
    """The case references in a queue's table, in the order shown."""
    return re.findall(r">(EHE-\d{3}-C\d{6})</a>", html)


def queue_html(user: User, slug: str, **params: Any) -> str:
    response = client_for(user).get(reverse("cases:queue", kwargs={"slug": slug}), params)
    assert response.status_code == 200
    return response.content.decode()


def case(state: str, la: LocalAuthority, **fields: Any) -> Episode:
    return make_episode(state, la=la, **fields)


def open_escalation(episode: Episode, rule: str, due_in: timedelta) -> Escalation:
    now = timezone.now()
    return Escalation.objects.create(
        episode=episode,
        local_authority_id=episode.local_authority_id,
        rule=rule,
        level=1,
        owner_role=Role.CSPA_DUTY_WORKER.value,
        raised_at=now,
        due_at=now + due_in,
    )


# --- What each queue holds, and its order ------------------------------------------------------


def test_safeguarding_queue_holds_reviews_and_open_safeguarding_escalations_oldest_due_first(
    la: LocalAuthority, officer: User
) -> None:
    cspa = make_user(Role.CSPA_DUTY_WORKER, la)
    review_later = case(State.SAFEGUARDING_REVIEW, la)
    open_escalation(review_later, "concern_ticked", timedelta(hours=5))
    monitoring_soon = case(State.MONITORING, la)
    open_escalation(monitoring_soon, "social_care_known", timedelta(hours=1))
    review_no_due = case(State.SAFEGUARDING_REVIEW, la)
    not_safeguarding = case(State.ADDRESS_VERIFICATION, la)
    open_escalation(not_safeguarding, "contacts_unverified", timedelta(hours=1))
    resolved = case(State.MONITORING, la)
    Escalation.objects.filter(pk=open_escalation(resolved, "concern_ticked", timedelta(hours=1)).pk).update(
        resolved_at=timezone.now()
    )

    shown = references(queue_html(cspa, "safeguarding"))

    assert shown == [monitoring_soon.reference, review_later.reference, review_no_due.reference]


def test_new_queue_holds_unassigned_cases_without_first_contact_oldest_first(la: LocalAuthority, officer: User) -> None:
    newer = case(State.ADDRESS_VERIFICATION, la, received_on=TODAY - timedelta(days=1))
    older = case(State.SAFEGUARDING_REVIEW, la, received_on=TODAY - timedelta(days=5))
    case(State.ADDRESS_VERIFICATION, la, assigned_officer=officer)
    case(State.ADDRESS_VERIFICATION, la, first_contact_at=timezone.now())
    case(State.CLOSED, la)

    assert references(queue_html(officer, "new")) == [older.reference, newer.reference]


def test_consent_queue_holds_cases_awaiting_consent(la: LocalAuthority, manager: User) -> None:
    waiting = case(State.AWAITING_CONSENT, la)
    case(State.ADDRESS_VERIFICATION, la)

    assert references(queue_html(manager, "consent")) == [waiting.reference]


def test_my_cases_are_by_next_action_due_with_overdue_first(la: LocalAuthority, officer: User) -> None:
    later = case(State.EDUCATION_ENQUIRY, la, assigned_officer=officer, next_action_due=TODAY + timedelta(days=20))
    soon = case(State.EDUCATION_ENQUIRY, la, assigned_officer=officer, next_action_due=TODAY + timedelta(days=2))
    # Every active case has a clock; this one's (its review falling due) is a year off.
    quiet = case(State.MONITORING, la, assigned_officer=officer, review_due_on=TODAY + timedelta(days=400))
    overdue = case(State.EDUCATION_ENQUIRY, la, assigned_officer=officer, next_action_due=TODAY - timedelta(days=1))
    # Overdue through an escalation past its due time, though its own next action is far off.
    escalated = case(State.MONITORING, la, assigned_officer=officer, next_action_due=TODAY + timedelta(days=40))
    open_escalation(escalated, "contacts_stale", timedelta(hours=-2))
    case(State.EDUCATION_ENQUIRY, la, assigned_officer=make_user(Role.EHE_OFFICER, la))
    case(State.CLOSED, la, assigned_officer=officer)

    html = queue_html(officer, "mine")

    assert references(html) == [
        overdue.reference,
        escalated.reference,
        soon.reference,
        later.reference,
        quiet.reference,
    ]
    assert html.count('class="govuk-tag app-tag--overdue">Overdue') == 2


def test_verification_queue_holds_address_verification_overdue_first(la: LocalAuthority, officer: User) -> None:
    older = case(State.ADDRESS_VERIFICATION, la, received_on=TODAY - timedelta(days=9))
    overdue = case(
        State.ADDRESS_VERIFICATION, la, received_on=TODAY - timedelta(days=2), next_action_due=TODAY - timedelta(1)
    )
    case(State.EDUCATION_ENQUIRY, la)

    assert references(queue_html(officer, "verification")) == [overdue.reference, older.reference]


def test_reviews_queue_holds_reviews_due_and_monitoring_within_30_days(la: LocalAuthority, officer: User) -> None:
    due = case(State.REVIEW_DUE, la, review_due_on=TODAY + timedelta(days=10))
    soon = case(State.MONITORING, la, review_due_on=TODAY + timedelta(days=29))
    past = case(State.MONITORING, la, review_due_on=TODAY - timedelta(days=3))
    case(State.MONITORING, la, review_due_on=TODAY + timedelta(days=60))

    assert references(queue_html(officer, "reviews")) == [past.reference, due.reference, soon.reference]


def test_team_queue_holds_every_unassigned_active_case_overdue_first(la: LocalAuthority, officer: User) -> None:
    plain = case(State.MONITORING, la, next_action_due=TODAY + timedelta(days=3))
    overdue = case(State.EDUCATION_ENQUIRY, la, next_action_due=TODAY - timedelta(days=3))
    case(State.MONITORING, la, assigned_officer=officer)
    case(State.CLOSED, la)

    assert references(queue_html(officer, "team")) == [overdue.reference, plain.reference]


def test_likely_matches_queue_lists_open_matches_only(la: LocalAuthority, officer: User) -> None:
    child, candidate, other = (ChildFactory(local_authority=la) for _ in range(3))
    PossibleMatch.objects.create(
        child=child, candidate=candidate, reasons=["same date of birth"], found_at=timezone.now()
    )
    PossibleMatch.objects.create(
        child=other, candidate=candidate, reasons=["x"], found_at=timezone.now(), status=MatchStatus.DIFFERENT
    )

    html = queue_html(officer, "matches")

    assert escape(child.full_name) in html
    assert escape(candidate.full_name) in html
    assert escape(other.full_name) not in html
    assert "Likely matches (1)" in html


def test_another_las_cases_never_appear(la: LocalAuthority, other_la: LocalAuthority, officer: User) -> None:
    mine = case(State.MONITORING, la)
    theirs = case(State.MONITORING, other_la)

    shown = references(queue_html(officer, "team"))

    assert mine.reference in shown
    assert theirs.reference not in shown


def test_queue_tabs_show_counts(la: LocalAuthority, manager: User) -> None:
    case(State.AWAITING_CONSENT, la)
    case(State.AWAITING_CONSENT, la)
    case(State.MONITORING, la, review_due_on=TODAY + timedelta(days=5))

    html = queue_html(manager, "team")

    assert "Awaiting consent (2)" in html
    assert "Reviews due (1)" in html
    assert "Team queue (3)" in html
    assert "My cases" not in html  # managers without the officer role hold no caseload


def test_cases_index_opens_each_role_on_its_default_queue(la: LocalAuthority, officer: User, manager: User) -> None:
    cspa = make_user(Role.CSPA_MANAGER, la)
    for user, slug in ((officer, "mine"), (manager, "team"), (cspa, "safeguarding")):
        response = client_for(user).get(reverse("cases:index"))
        assert response.status_code == 302
        assert response["Location"] == reverse("cases:queue", kwargs={"slug": slug})


def test_a_queue_that_is_not_the_roles_is_refused(la: LocalAuthority) -> None:
    cspa = make_user(Role.CSPA_DUTY_WORKER, la)
    assert client_for(cspa).get(reverse("cases:queue", kwargs={"slug": "team"})).status_code == 403
    assert client_for(cspa).get(reverse("cases:queue", kwargs={"slug": "nonsense"})).status_code == 404


def test_pages_of_25(la: LocalAuthority, officer: User) -> None:
    for n in range(30):
        case(State.MONITORING, la, received_on=TODAY - timedelta(days=100 - n))

    first = queue_html(officer, "team")
    after = re.search(r'href="\?after=([^"&]+)&amp;page=2" rel="next"', first)
    assert after is not None
    second = queue_html(officer, "team", after=unquote(after.group(1)), page=2)

    assert len(references(first)) == 25
    assert len(references(second)) == 5
    assert not set(references(first)) & set(references(second))
    assert "30 cases, page 1 of 2" in first
    assert "30 cases, page 2 of 2" in second
    assert 'rel="next"' not in second


# --- Filters and search ------------------------------------------------------------------------


def test_filters_by_state_school_officer_overdue_and_priority(la: LocalAuthority, manager: User) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    school = SchoolFactory(local_authority=la)
    from_school = case(State.MONITORING, la, opened_by_school=school)
    overdue = case(State.ADDRESS_VERIFICATION, la, next_action_due=TODAY - timedelta(days=1))
    urgent = case(State.MONITORING, la, priority=2)
    with_officer = case(State.ADDRESS_VERIFICATION, la, assigned_officer=officer)

    def shown(slug: str = "team", **params: Any) -> set[str]:
        return set(references(queue_html(manager, slug, **params)))

    assert shown(state=State.ADDRESS_VERIFICATION) == {overdue.reference}
    assert shown(school=school.urn) == {from_school.reference}
    assert shown(overdue="on") == {overdue.reference}
    assert shown(priority=2) == {urgent.reference}
    assert shown("verification", officer=officer.pk) == {with_officer.reference}
    assert shown("verification", officer="none") == {overdue.reference}
    assert shown("verification") == {overdue.reference, with_officer.reference}


def test_school_filter_finds_a_school_by_part_of_its_name_in_any_script(la: LocalAuthority, manager: User) -> None:
    welsh = SchoolFactory(local_authority=la, name="Ysgol Gymraeg Bro Morgannwg")
    swedish = SchoolFactory(local_authority=la, name="St Åsa's Primary")
    from_welsh = case(State.MONITORING, la, opened_by_school=welsh)
    from_swedish = case(State.MONITORING, la, opened_by_school=swedish)
    case(State.MONITORING, la, opened_by_school=SchoolFactory(local_authority=la, name="St Asa Academy"))

    def shown(text: str) -> set[str]:
        return set(references(queue_html(manager, "team", school=text)))

    assert shown("gymraeg") == {from_welsh.reference}
    assert shown("  ST  åsa's ") == {from_swedish.reference}  # case and spaces aside, the Å is kept
    assert shown(welsh.urn) == {from_welsh.reference}
    assert shown("no such school") == set()
    html = queue_html(manager, "team", school="gymraeg")
    assert 'name="school" value="gymraeg"' in html  # the filter stays filled in
    assert '<select name="school"' not in html  # a text box, not a list of every school


def _child_case(la: LocalAuthority, **child_fields: Any) -> Episode:
    child = ChildFactory(local_authority=la, **child_fields)
    AddressFactory(child=child, local_authority=la, postcode="GU1 1AA" if child_fields.get("upn") else "KT2 5BB")
    return make_episode(State.MONITORING, child=child)


@pytest.fixture
def searchable(la: LocalAuthority) -> dict[str, Episode]:
    return {
        "ada": _child_case(
            la,
            legal_first_name="Ada",
            legal_middle_names="Augusta Byron",
            legal_last_name="Lovelace",
            upn="H801200001001",
        ),
        "alan": _child_case(la, legal_first_name="Alan", legal_last_name="Turing", preferred_first_name="Al"),
        "grace": _child_case(la, legal_first_name="Grace", legal_last_name="Hopper"),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ada", {"ada"}),
        ("lov", {"ada"}),
        ("ada lovel", {"ada"}),
        ("Lovelace Ada", {"ada"}),
        ("Al", {"alan"}),  # "Al" starts Alan (and Al, the preferred name); no name of Ada's starts "Al"
        ("Byron", {"ada"}),  # full text: a word inside the middle names
        ("augusta byron", {"ada"}),
        ("Hop", {"grace"}),
        ("Nobody", set()),
        ("h801200001001", {"ada"}),
        ("GU1 1AA", {"ada"}),
        ("gu11aa", {"ada"}),
        ("KT2", {"alan", "grace"}),
    ],
)
def test_search(searchable: dict[str, Episode], officer: User, text: str, expected: set[str]) -> None:
    shown = set(references(queue_html(officer, "team", q=text)))
    assert shown == {searchable[name].reference for name in expected}


def test_search_by_case_and_notification_reference(
    la: LocalAuthority, officer: User, searchable: dict[str, Episode]
) -> None:
    grace = searchable["grace"]
    school_user = make_user(Role.SCHOOL_USER, la)
    OffRollNotification.objects.create(
        reference="EHE-936-000042",
        school=school_user.schools.get(),
        submitted_by=school_user,
        submitted_at=timezone.now(),
        snapshot={},
        residence_la=la,
        routing=Routing.THIS_DEPLOYMENT,
        child=grace.child,
        episode=grace,
        legal_first_name="Grace",
        legal_last_name="Hopper",
        date_of_birth=grace.child.date_of_birth,
        notice_received_on=TODAY,
        removal_status=RemovalStatus.REMOVED,
        reason_code=ReasonCode.OTHER,
        safeguarding_concerns=False,
    )
    ada = searchable["ada"]

    assert set(references(queue_html(officer, "team", q=ada.reference.lower()))) == {ada.reference}
    assert set(references(queue_html(officer, "team", q="EHE-936-000042"))) == {grace.reference}
    assert references(queue_html(officer, "team", q="EHE-938-C" + ada.reference[-6:])) == []


# --- Confidential addresses --------------------------------------------------------------------


def test_confidential_address_is_masked_in_lists_and_not_found_by_postcode(la: LocalAuthority, officer: User) -> None:
    hidden = ChildFactory(local_authority=la, confidential_address=True, legal_last_name="Refuge")
    Address.objects.create(
        local_authority=la, child=hidden, kind=AddressKind.CURRENT, line_1="1 Secret Lane", postcode="RH1 1AA"
    )
    episode = make_episode(State.MONITORING, child=hidden)

    html = queue_html(officer, "team")

    assert episode.reference in html
    assert "Address withheld" in html
    assert "Secret Lane" not in html
    assert "RH1 1AA" not in html
    assert references(queue_html(officer, "team", q="RH1 1AA")) == []
    assert references(queue_html(officer, "team", q="Refuge")) == [episode.reference]


def test_school_users_never_reach_queues(la: LocalAuthority) -> None:
    hidden = ChildFactory(local_authority=la, confidential_address=True)
    Address.objects.create(local_authority=la, child=hidden, line_1="1 Secret Lane", postcode="RH1 1AA")
    make_episode(State.MONITORING, child=hidden)
    school = client_for(make_user(Role.SCHOOL_USER, la))

    for slug in [q.slug for q in QUEUES]:
        response = school.get(reverse("cases:queue", kwargs={"slug": slug}))
        assert response.status_code == 403
        assert b"Secret Lane" not in response.content


# --- Query counts ------------------------------------------------------------------------------


def _fill(la: LocalAuthority, officer: User, n: int, start: int) -> None:
    """``n`` cases spread over every queue, with addresses, schools, escalations and matches."""
    school = SchoolFactory(local_authority=la)
    states = [
        State.SAFEGUARDING_REVIEW,
        State.AWAITING_CONSENT,
        State.ADDRESS_VERIFICATION,
        State.EDUCATION_ENQUIRY,
        State.MONITORING,
        State.REVIEW_DUE,
    ]
    for i in range(start, start + n):
        child = ChildFactory(local_authority=la, legal_last_name="Testchild", confidential_address=i % 7 == 0)
        AddressFactory(child=child, local_authority=la)
        episode = make_episode(
            states[i % len(states)],
            child=child,
            assigned_officer=officer if i % 2 else None,
            opened_by_school=school,
            next_action_due=TODAY + timedelta(days=(i % 11) - 5),
            review_due_on=TODAY + timedelta(days=i % 40),
        )
        if i % 3 == 0:
            open_escalation(episode, "concern_ticked", timedelta(hours=i % 5 - 2))
        if i % 4 == 0:
            other = ChildFactory(local_authority=la)
            PossibleMatch.objects.create(
                child=other, candidate=child, reasons=["same date of birth"], found_at=timezone.now()
            )


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


MAX_QUERIES = 25


@pytest.mark.parametrize("slug", [q.slug for q in QUEUES])
def test_a_queue_page_runs_the_same_queries_with_10_or_200_cases(
    la: LocalAuthority, slug: str, django_assert_max_num_queries: Any
) -> None:
    officer = make_user(Role.EHE_OFFICER, la)
    viewer = make_user(Role.EHE_MANAGER, la) if slug not in ("mine",) else officer
    if slug == "safeguarding":
        viewer = make_user(Role.CSPA_DUTY_WORKER, la)
    client = client_for(viewer)
    url = reverse("cases:queue", kwargs={"slug": slug})
    searched = f"{url}?q=Testchild&officer=&state="
    _fill(la, officer, 10, 0)
    client.get(url)  # the session and the user's groups are loaded once, as on any first page

    small, small_searched = _queries(client, url), _queries(client, searched)
    _fill(la, officer, 190, 10)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(url)
    large, large_searched = _queries(client, url), _queries(client, searched)

    assert response.status_code == 200
    assert (small, small_searched) == (large, large_searched)
    assert references(response.content.decode()) or slug == "matches"


def test_home_pages_show_queue_counts(la: LocalAuthority, officer: User, manager: User) -> None:
    case(State.ADDRESS_VERIFICATION, la, assigned_officer=officer)
    case(State.AWAITING_CONSENT, la)
    cspa = make_user(Role.CSPA_DUTY_WORKER, la)
    case(State.SAFEGUARDING_REVIEW, la)

    officer_home = client_for(officer).get(reverse("home")).content.decode()
    manager_home = client_for(manager).get(reverse("home")).content.decode()
    cspa_home = client_for(cspa).get(reverse("home")).content.decode()

    assert re.search(r"My cases</a>: 1 case\b", officer_home)
    assert re.search(r"Awaiting consent</a>: 1 case\b", manager_home)
    assert re.search(r"Safeguarding</a>: 1 case\b", cspa_home)
    assert 'href="/cases/new/"' in officer_home
