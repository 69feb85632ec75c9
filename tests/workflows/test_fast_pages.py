"""Fast pages (issue 12, item 4): keyset pages that skip and repeat nothing, capped counts, and
query counts that do not grow with the page or the data."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from django import forms
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ehe_register.forms_rendering import Select
from ehe_register.models import LocalAuthority, User
from ehe_register.roles import Role
from tests.clock import stay_on
from tests.factories import ChildFactory, make_episode, make_user
from workflows import selectors
from workflows.models import Episode, Escalation
from workflows.selectors import QUEUE_KEYS, keyset_page, keyset_token, keyset_values, queue_episodes
from workflows.states import State

TODAY = timezone.localdate()
on_today = stay_on(TODAY)
CASE_QUEUES = list(QUEUE_KEYS)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def references(html: str) -> list[str]:
    return re.findall(r">(EHE-\d{3}-C\d{6})</a>", html)


def _viewer(slug: str, la: LocalAuthority, officer: User) -> User:
    if slug == "mine":
        return officer
    if slug == "safeguarding":
        return make_user(Role.CSPA_DUTY_WORKER, la)
    return make_user(Role.EHE_MANAGER, la)


def _fill(la: LocalAuthority, officer: User, n: int, start: int = 0) -> None:
    """Cases of every queue, with many ties in every sort key (few distinct dates, some NULLs)."""
    states = [
        State.NOTIFIED,
        State.SAFEGUARDING_REVIEW,
        State.AWAITING_CONSENT,
        State.ADDRESS_VERIFICATION,
        State.MONITORING,
        State.REVIEW_DUE,
    ]
    now = timezone.now()
    for i in range(start, start + n):
        episode = make_episode(
            states[i % len(states)],
            child=ChildFactory(local_authority=la),
            assigned_officer=officer if i % 2 else None,
            received_on=TODAY - timedelta(days=i % 3),
            next_action_due=None if i % 5 == 0 else TODAY + timedelta(days=(i % 3) - 1),
            review_due_on=None if i % 7 == 0 else TODAY + timedelta(days=i % 2),
        )
        if i % 3 == 0:
            due = now + timedelta(hours=(i % 2) - 1) if i % 4 else now.replace(microsecond=0)
            Escalation.objects.create(
                episode=episode,
                local_authority_id=la.pk,
                rule="concern_ticked",
                level=1,
                owner_role=Role.CSPA_DUTY_WORKER.value,
                raised_at=now,
                due_at=due,
            )


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la)


# --- Keyset pages ---------------------------------------------------------------------------


@pytest.mark.parametrize("slug", CASE_QUEUES)
def test_keyset_pages_give_every_case_once_in_the_queue_order(la: LocalAuthority, officer: User, slug: str) -> None:
    _fill(la, officer, 40)
    viewer = _viewer(slug, la, officer)
    now = timezone.now()
    everything = [e.pk for e in queue_episodes(slug, viewer, today=TODAY, now=now)]
    assert len(everything) >= 4, "the queue needs several pages for the test to mean anything"

    seen: list[int] = []
    after = ""
    for _ in range(len(everything) + 1):
        page = keyset_page(queue_episodes(slug, viewer, today=TODAY, now=now), QUEUE_KEYS[slug], after, per_page=3)
        seen += [e.pk for e in page.rows]
        after = page.next_after
        if not after:
            break

    assert seen == everything


def _walk(slug: str, viewer: User, per_page: int) -> list[int]:
    """Every case of the queue, page after page, as the queue page reads them."""
    now = timezone.now()
    seen: list[int] = []
    after = ""
    for _ in range(1000):
        matching = selectors.queue_matching(slug, viewer, today=TODAY, now=now)
        page = selectors.queue_keyset_page(slug, viewer, matching, after, today=TODAY, now=now, per_page=per_page)
        seen += [e.pk for e in page.rows]
        after = page.next_after
        if not after:
            break
    return seen


@pytest.mark.parametrize("slug", CASE_QUEUES)
def test_the_queue_page_reads_the_queue_in_its_order_page_after_page(
    la: LocalAuthority, officer: User, slug: str
) -> None:
    """The page's own query (an "overdue first" queue read as a union of parts, each cut at a
    page) gives exactly the queue's order: every case once, whatever the page size."""
    _fill(la, officer, 40)
    # Overdue although the next action date has not passed: a review date passed, or a late
    # escalation on a case whose next action is in the future (or not set).
    for n in range(6):
        episode = make_episode(
            State.MONITORING if n % 2 else State.REVIEW_DUE,
            child=ChildFactory(local_authority=la),
            assigned_officer=officer if n % 3 else None,
            next_action_due=None if n == 5 else TODAY + timedelta(days=n),
            review_due_on=TODAY - timedelta(days=1 + n % 2),
        )
    for n in range(4):
        episode = make_episode(
            State.ADDRESS_VERIFICATION,
            child=ChildFactory(local_authority=la),
            assigned_officer=officer if n % 2 else None,
            next_action_due=TODAY + timedelta(days=n),
        )
        Escalation.objects.create(
            episode=episode,
            local_authority_id=la.pk,
            rule="contacts_unverified",
            level=1,
            owner_role=Role.EHE_OFFICER.value,
            raised_at=timezone.now() - timedelta(days=3),
            due_at=timezone.now() - timedelta(hours=1 + n),
        )
    viewer = _viewer(slug, la, officer)
    everything = [e.pk for e in queue_episodes(slug, viewer, today=TODAY, now=timezone.now())]
    assert len(everything) >= 4
    for per_page in (1, 3, 7, 100):
        assert _walk(slug, viewer, per_page) == everything, per_page


def test_a_mangled_after_value_gives_the_first_page(la: LocalAuthority, officer: User) -> None:
    keys = QUEUE_KEYS["team"]
    assert keyset_values(keys, "1~2026-01-01~nonsense~3") is None
    assert keyset_values(keys, "1~2026-01-01") is None
    assert keyset_values(keys, "x~~2026-01-01~3") is None
    assert keyset_values(keys, "0~~2026-01-01~3") == [False, None, TODAY.replace(2026, 1, 1), 3]
    _fill(la, officer, 6)
    manager = make_user(Role.EHE_MANAGER, la)
    first = client_for(manager).get(reverse("cases:queue", kwargs={"slug": "team"})).content.decode()
    mangled = client_for(manager).get(reverse("cases:queue", kwargs={"slug": "team"}), {"after": "1~zz"})
    assert mangled.status_code == 200
    assert references(mangled.content.decode()) == references(first)


def test_the_token_round_trips_a_datetime_with_microseconds(la: LocalAuthority, officer: User) -> None:
    _fill(la, officer, 12)
    cspa = make_user(Role.CSPA_DUTY_WORKER, la)
    row = next(
        e
        for e in queue_episodes("safeguarding", cspa, today=TODAY, now=timezone.now())
        if e.safeguarding_due is not None
    )
    assert keyset_values(QUEUE_KEYS["safeguarding"], keyset_token(QUEUE_KEYS["safeguarding"], row)) == [
        row.safeguarding_due,
        row.received_on,
        row.pk,
    ]


def test_the_next_page_link_follows_on_over_http(la: LocalAuthority, officer: User) -> None:
    for n in range(27):
        make_episode(State.MONITORING, la=la, received_on=TODAY - timedelta(days=n % 2))
    manager = make_user(Role.EHE_MANAGER, la)
    client = client_for(manager)
    url = reverse("cases:queue", kwargs={"slug": "team"})
    first = client.get(url).content.decode()
    link = re.search(r'href="\?after=([^"&]+)&amp;page=2" rel="next"', first)
    assert link is not None
    second = client.get(url, {"after": unquote(link.group(1)), "page": "2"}).content.decode()
    shown = references(first) + references(second)
    assert len(shown) == len(set(shown)) == 27
    assert 'rel="first"' in second
    assert 'rel="next"' not in second


# --- Capped counts --------------------------------------------------------------------------


def test_counts_stop_at_the_cap_and_say_so(la: LocalAuthority, officer: User, monkeypatch: Any) -> None:
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    for _ in range(5):
        make_episode(State.MONITORING, la=la)
    manager = make_user(Role.EHE_MANAGER, la)
    html = client_for(manager).get(reverse("cases:queue", kwargs={"slug": "team"})).content.decode()
    assert "More than 3 cases, page 1</caption>" in html
    assert "Team queue (more than 3)" in html
    counts = selectors.queue_counts(manager, today=TODAY)
    assert counts["team"] == 4
    assert counts["team"].capped
    assert counts["consent"] == 0
    assert not counts["consent"].capped


def test_counts_below_the_cap_are_exact(la: LocalAuthority, officer: User) -> None:
    _fill(la, officer, 30)
    manager = make_user(Role.EHE_MANAGER, la)
    now = timezone.now()
    counts = selectors.queue_counts(manager, today=TODAY, now=now)
    for slug, count in counts.items():
        if slug == selectors.MATCHES:
            continue
        assert count == queue_episodes(slug, manager, today=TODAY, now=now).count(), slug


# --- Query counts ---------------------------------------------------------------------------


def _queries(client: Client, url: str, params: dict[str, str] | None = None) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(captured), response.content.decode()


@pytest.mark.parametrize("slug", CASE_QUEUES)
def test_a_queue_runs_the_same_queries_on_page_1_and_2_with_5_or_60_cases(
    la: LocalAuthority, officer: User, slug: str, monkeypatch: Any
) -> None:
    monkeypatch.setattr("workflows.views.queues.PER_PAGE", 4)  # so that 60 cases make pages in every queue
    viewer = _viewer(slug, la, officer)
    client = client_for(viewer)
    url = reverse("cases:queue", kwargs={"slug": slug})
    _fill(la, officer, 5)
    client.get(url)
    small, _ = _queries(client, url)
    _fill(la, officer, 55, 5)
    large, html = _queries(client, url)
    link = re.search(r'href="\?after=([^"&]+)&amp;page=2" rel="next"', html)
    assert link is not None, "60 cases fill more than one page of every queue"
    second, second_html = _queries(client, url, {"after": unquote(link.group(1)), "page": "2"})
    assert references(second_html)
    assert small == large == second


@pytest.mark.parametrize("slug", [*CASE_QUEUES, selectors.MATCHES])
def test_a_queue_runs_the_same_queries_whatever_the_page_size(
    la: LocalAuthority, officer: User, slug: str, monkeypatch: Any
) -> None:
    viewer = _viewer(slug, la, officer)
    client = client_for(viewer)
    url = reverse("cases:queue", kwargs={"slug": slug})
    _fill(la, officer, 60)
    client.get(url)
    counts = []
    for per_page in (2, 5, 25):
        monkeypatch.setattr("workflows.views.queues.PER_PAGE", per_page)
        counts.append(_queries(client, url)[0])
    assert len(set(counts)) == 1, counts


def test_the_case_page_runs_the_same_queries_whatever_the_la_holds(la: LocalAuthority, officer: User) -> None:
    episode = make_episode(State.MONITORING, la=la, assigned_officer=officer)
    client = client_for(officer)
    url = reverse("cases:detail", kwargs={"pk": episode.pk})
    client.get(url)
    small, _ = _queries(client, url)
    _fill(la, officer, 40)
    large, _ = _queries(client, url)
    assert small == large


def test_the_dashboard_runs_the_same_queries_whatever_the_la_holds(la: LocalAuthority, officer: User) -> None:
    manager = make_user(Role.EHE_MANAGER, la)
    client = client_for(manager)
    _fill(la, officer, 5)
    client.get(reverse("home"))
    small, _ = _queries(client, reverse("home"))
    _fill(la, officer, 40, 5)
    large, _ = _queries(client, reverse("home"))
    assert small == large


# --- The fast select --------------------------------------------------------------------------


def test_the_fast_select_writes_what_django_select_writes() -> None:
    choices = [("", "Any"), ("1", "Zoë <O'Brien> & co"), ("2", "محمد"), ("Group", [("3", "Three")])]
    for value in ("", "1", "3"):
        ours = Select(choices=choices, attrs={"class": "govuk-select", "aria-describedby": "x"})
        stock = forms.Select(choices=choices, attrs={"class": "govuk-select", "aria-describedby": "x"})
        assert ours.render("officer", value) == stock.render("officer", value)


def test_episode_queue_rows_are_not_read_past_the_page(la: LocalAuthority, officer: User) -> None:
    """The page's query asks for one row more than the page (to know whether there is a next
    page), never for every case with an OFFSET."""
    _fill(la, officer, 30)
    manager = make_user(Role.EHE_MANAGER, la)
    client = client_for(manager)
    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("cases:queue", kwargs={"slug": "team"}), {"after": "0~~2000-01-01~1", "page": "2"})
    episode_selects = [q["sql"] for q in captured if q["sql"].startswith('SELECT "workflows_episode"."id"')]
    assert episode_selects
    assert all("OFFSET" not in sql for sql in episode_selects)
    assert any(f"LIMIT {selectors.PER_PAGE + 1}" in sql for sql in episode_selects)
    assert Episode.objects.count() == 30


# --- The indexes answer the queries they were made for ------------------------------------------


def _plan(queryset: Any) -> str:
    """The plan with sequential scans priced out, so that a usable index is always chosen."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    return str(queryset.explain())


def test_parent_matching_reads_the_phone_and_email_indexes(la: LocalAuthority) -> None:
    from django.db.models import Q

    from ehe_register.models import Person
    from ehe_register.services.children import _digits, _phone_forms

    Person.objects.bulk_create(
        Person(
            local_authority=la,
            first_name="Anne",
            last_name=f"Parent{n}",
            emergency_phone=f"07700 9{n:05d}",
            other_phone=f"01632 9{n:05d}",
            email=f"parent{n}@example.org",
        )
        for n in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ehe_register_person")
    phones = _phone_forms("07700 900982")
    people = (
        Person.objects.filter(local_authority_id=la.pk)
        .annotate(a=_digits("emergency_phone"), b=_digits("other_phone"))
        .filter(Q(a__in=phones) | Q(b__in=phones) | Q(email__iexact="anne@example.org"))
    )
    plan = _plan(people)
    for index in ("person_la_phone", "person_la_other_phone", "person_la_email"):
        assert index in plan


def test_the_case_timeline_finds_messages_by_index(la: LocalAuthority) -> None:
    from django.db.models import Q

    from notifications.models import Message

    found = Message.objects.filter(Q(payload__episode_id=12) | Q(payload__case_reference="EHE-936-C000012"))
    plan = _plan(found)
    assert "message_episode" in plan
    assert "message_case_reference" in plan


def test_the_products_connections_run_without_jit(db: None) -> None:
    """PostgreSQL's JIT spent 2.7 s compiling a dashboard query that runs in 20 ms (100,000
    children): the product's connections have it off (``ehe_register.settings``)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
