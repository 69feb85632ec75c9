"""The officer queues (DESIGN section 6): which cases each queue holds, in what order, for whom.

Every queue is built on :func:`episodes_for`, so a queue can never show
another LA's case. A queue page runs the same handful of queries however many cases there are:
the rows carry what the list shows through ``select_related``, one ``Prefetch`` of current
addresses and annotations (overdue, the oldest safeguarding due time), and the counts on the
tabs come from one query of capped subqueries, one per episode queue (plus one for likely matches).
A page and its counts read about the same rows however large the LA: keyset pages (``QUEUE_KEYS``,
:func:`keyset_page`), counts that stop at ``COUNT_CAP`` + 1, and a partial index per queue
(``Episode.Meta.indexes``). The subqueries a queue needs (open safeguarding escalations, late
escalations) read the LA's own escalations, never every LA's; a queue ordered "overdue first" is
read in parts, each in index order (:func:`queue_keyset_page`), so no page sorts the whole queue.

- ``safeguarding``: cases in safeguarding review or with an open ``concern_ticked`` /
  ``social_care_known`` escalation, the oldest due first (the front door's queue).
- ``new``: active cases nobody has picked up and with no first contact yet, oldest first.
- ``matches``: likely matches between child records, for an officer to link or tell apart.
- ``consent``: cases waiting for the EHE manager's consent decision, oldest first.
- ``mine``: the user's own active cases by next action due, overdue first.
- ``verification``: cases in address verification, overdue first then oldest.
- ``reviews``: reviews due (``review_due``, or monitoring with the review within 30 days).
- ``team``: every active case without an officer, overdue first.
- ``overdue``: every case with a check past its time (``workflows.overdue``), the longest
  waiting first; the ``check`` filter narrows it to one kind, which is what the manager's
  dashboard links to, so the dashboard's figure and the queue count the same cases.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import (
    Case,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from ehe_register.models import Absence, Address, AddressKind, MatchStatus, PossibleMatch, School, User
from ehe_register.roles import Role
from ehe_register.selectors import (
    children_for,
    is_school_user,
    notifications_for,
    notifications_from_schools_of,
    staff_la_id,
)
from ehe_register.validators import normalise_postcode, normalise_upn
from workflows.escalation_rules import RULES, SAFEGUARDING_RULE_NAMES
from workflows.models import Episode, Escalation
from workflows.overdue import OverdueClock, OverdueKind, overdue_any_condition
from workflows.overdue import overdue_condition as overdue_check_condition
from workflows.states import ACTIVE_STATES, State


def episodes_for(user: Any) -> QuerySet[Episode]:
    la_id = staff_la_id(user)
    if la_id is not None:
        episodes = Episode.objects.filter(local_authority_id=la_id)
    elif is_school_user(user):
        episodes = Episode.objects.filter(pk__in=notifications_from_schools_of(user).values("episode_id"))
    else:
        return Episode.objects.none()
    return episodes.select_related("child", "local_authority")


def episode_for(user: Any, pk: int | str) -> Episode:
    """One episode the user may see; anything else is a 404 (see :func:`ehe_register.selectors.child_for`)."""
    return get_object_or_404(episodes_for(user).select_related("assigned_officer"), pk=pk)


PER_PAGE = 25
REVIEW_WINDOW_DAYS = 30

CASEWORK_READERS = frozenset({Role.EHE_OFFICER, Role.EHE_MANAGER, Role.HEAD_OF_SERVICE, Role.AUDITOR})
FRONT_DOOR = frozenset({Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER})
CASEWORKERS = frozenset({Role.EHE_OFFICER, Role.EHE_MANAGER})
# Everyone who may open the queues at all (the view's guard).
QUEUE_ROLES = CASEWORK_READERS | FRONT_DOOR

MATCHES = "matches"


@dataclass(frozen=True)
class Queue:
    slug: str
    label: str
    description: str
    roles: frozenset[Role]


QUEUES: tuple[Queue, ...] = (
    Queue(
        "safeguarding",
        "Safeguarding",
        "Cases waiting for a front door decision or with an open safeguarding escalation, the oldest due first.",
        FRONT_DOOR | {Role.EHE_MANAGER, Role.HEAD_OF_SERVICE, Role.AUDITOR},
    ),
    Queue("new", "New and unassigned", "New cases nobody has picked up yet, oldest first.", CASEWORK_READERS),
    Queue(
        MATCHES,
        "Likely matches",
        "Child records that may be the same child: link them or confirm they are different children.",
        CASEWORK_READERS,
    ),
    Queue(
        "consent",
        "Awaiting consent",
        "Cases waiting for the local authority's consent decision, oldest first.",
        frozenset({Role.EHE_MANAGER, Role.HEAD_OF_SERVICE, Role.AUDITOR}),
    ),
    Queue("mine", "My cases", "Your cases by next action due, overdue first.", frozenset({Role.EHE_OFFICER})),
    Queue(
        "verification",
        "Verification due",
        "Cases whose address and contact details are being verified, overdue first.",
        CASEWORK_READERS,
    ),
    Queue(
        "reviews",
        "Reviews due",
        f"Reviews due now or within {REVIEW_WINDOW_DAYS} days, the earliest first.",
        CASEWORK_READERS,
    ),
    Queue("team", "Team queue", "Every active case without an officer, overdue first.", CASEWORK_READERS),
    Queue(
        "overdue",
        "Overdue checks",
        "Every case with a check past its time: verification, enquiry, review, consent decision, "
        "escalation or next action.",
        CASEWORK_READERS,
    ),
)
QUEUES_BY_SLUG = {queue.slug: queue for queue in QUEUES}

# The first role a user holds in this order picks the queue /cases/ opens on.
DEFAULT_QUEUE_BY_ROLE: tuple[tuple[Role, str], ...] = (
    (Role.EHE_OFFICER, "mine"),
    (Role.EHE_MANAGER, "team"),
    (Role.CSPA_DUTY_WORKER, "safeguarding"),
    (Role.CSPA_MANAGER, "safeguarding"),
    (Role.HEAD_OF_SERVICE, "safeguarding"),
    (Role.AUDITOR, "team"),
)


def queues_for(user: Any) -> list[Queue]:
    roles: frozenset[Role] = getattr(user, "roles", frozenset())
    return [queue for queue in QUEUES if queue.roles & roles]


def default_queue_for(user: Any) -> Queue | None:
    for role, slug in DEFAULT_QUEUE_BY_ROLE:
        if user.has_role(role):
            return QUEUES_BY_SLUG[slug]
    return None


# ----------------------------------------------------------------------------------------------
# What each queue holds, as a condition on episodes (so the counts are one aggregate query).


def _open_escalations(la_id: int | None) -> QuerySet[Escalation]:
    """Open escalations someone must act on, of one LA: a subquery over the LA's own escalations
    (an index range), never a scan of every LA's."""
    notify_only = [name for name, rule in RULES.items() if rule.notify_only]
    return Escalation.objects.filter(local_authority_id=la_id, resolved_at__isnull=True).exclude(rule__in=notify_only)


def overdue_condition(today: date, now: datetime, la_id: int | None) -> Q:
    """Overdue: the next action's date has passed, the review date has passed, or an open
    escalation's due time has passed (``la_id``: the LA of the episodes it filters)."""
    return (
        Q(next_action_due__lt=today)
        | Q(state__in=[State.MONITORING, State.REVIEW_DUE], review_due_on__lt=today)
        | Q(pk__in=_open_escalations(la_id).filter(due_at__lt=now).values("episode_id"))
    )


def _safeguarding_condition(la_id: int | None) -> Q:
    """In safeguarding review, or active with an open safeguarding escalation: the union of the
    two (a partial index and an index range of the LA's escalations), not a scan of the LA."""
    in_review = Episode.objects.filter(local_authority_id=la_id, state=State.SAFEGUARDING_REVIEW).values("pk")
    escalated = _open_escalations(la_id).filter(rule__in=SAFEGUARDING_RULE_NAMES).values("episode_id")
    return Q(pk__in=in_review.union(escalated, all=True), state__in=ACTIVE_STATES)


def overdue_clock_for(user: Any, now: datetime) -> OverdueClock:
    """The overdue thresholds of the user's LA at ``now``."""
    return OverdueClock.of(user.local_authority, now)


def queue_condition(slug: str, user: Any, today: date, now: datetime | None = None) -> Q:
    if slug == "overdue":
        # Every kind is of active cases: said once more so the planner reads the active cases' index.
        return overdue_any_condition(overdue_clock_for(user, now or timezone.now())) & Q(state__in=ACTIVE_STATES)
    active = Q(state__in=ACTIVE_STATES)
    unassigned = Q(assigned_officer__isnull=True)
    conditions: dict[str, Callable[[], Q]] = {
        "safeguarding": lambda: _safeguarding_condition(staff_la_id(user)),
        "new": lambda: active & unassigned & Q(first_contact_at__isnull=True),
        "consent": lambda: Q(state=State.AWAITING_CONSENT),
        "mine": lambda: active & Q(assigned_officer_id=user.pk),
        "verification": lambda: Q(state=State.ADDRESS_VERIFICATION),
        "reviews": lambda: (
            Q(state=State.REVIEW_DUE)
            | Q(state=State.MONITORING, review_due_on__lte=today + timedelta(days=REVIEW_WINDOW_DAYS))
        ),
        "team": lambda: active & unassigned,
    }
    return conditions[slug]()


@dataclass(frozen=True)
class SortKey:
    """One column of a queue's order: a field or a row annotation (``is_overdue``,
    ``safeguarding_due``), its kind (for the "Next page" link's value), and its direction."""

    name: str
    kind: str  # "bool", "date", "datetime" or "int"
    descending: bool = False
    nulls_last: bool = False

    def order_by(self) -> Any:
        if self.nulls_last:
            return F(self.name).asc(nulls_last=True)
        return f"-{self.name}" if self.descending else self.name


_OVERDUE_FIRST = SortKey("is_overdue", "bool", descending=True)
_NEXT_ACTION = SortKey("next_action_due", "date", nulls_last=True)
_RECEIVED = SortKey("received_on", "date")
_PK = SortKey("pk", "int")

# Each queue's order, ending with the primary key so that the order is total: a "Next page" link
# carries the last row's values of these keys (keyset pagination), never an offset.
QUEUE_KEYS: dict[str, tuple[SortKey, ...]] = {
    "safeguarding": (SortKey("safeguarding_due", "datetime", nulls_last=True), _RECEIVED, _PK),
    "new": (_RECEIVED, _PK),
    "consent": (_RECEIVED, _PK),
    "mine": (_OVERDUE_FIRST, _NEXT_ACTION, _RECEIVED, _PK),
    "verification": (_OVERDUE_FIRST, _RECEIVED, _PK),
    "reviews": (SortKey("review_due_on", "date", nulls_last=True), _PK),
    "team": (_OVERDUE_FIRST, _NEXT_ACTION, _RECEIVED, _PK),
    "overdue": (_NEXT_ACTION, _RECEIVED, _PK),
}


def _ordering(slug: str) -> list[Any]:
    return [key.order_by() for key in QUEUE_KEYS[slug]]


def _safeguarding_due(la_id: int | None) -> Subquery:
    """The earliest due time of the case's open safeguarding escalations."""
    return Subquery(
        _open_escalations(la_id)
        .filter(episode=OuterRef("pk"), rule__in=SAFEGUARDING_RULE_NAMES)
        .order_by("due_at")
        .values("due_at")[:1]
    )


def _with_row_facts(episodes: QuerySet[Episode], today: date, now: datetime, la_id: int | None) -> QuerySet[Episode]:
    """What a queue row shows, loaded with the rows rather than one query per row."""
    return (
        episodes.select_related("child", "local_authority", "assigned_officer", "opened_by_school")
        .annotate(
            # CASE rather than the bare condition: a NULL date makes the condition NULL, which sorts first.
            is_overdue=Case(When(overdue_condition(today, now, la_id), then=Value(True)), default=Value(False)),
            safeguarding_due=_safeguarding_due(la_id),
        )
        .prefetch_related(
            Prefetch(
                "child__addresses",
                queryset=Address.objects.filter(kind=AddressKind.CURRENT),
                to_attr="current_addresses",
            )
        )
    )


def queue_matching(slug: str, user: Any, *, today: date, now: datetime) -> QuerySet[Episode]:
    """The episodes of an episode queue, unordered and without what a row shows (for counts and
    for :func:`queue_keyset_page`)."""
    if slug == MATCHES or slug not in QUEUES_BY_SLUG:
        raise ValueError(f"{slug} is not a queue of cases")
    return episodes_for(user).filter(queue_condition(slug, user, today, now))


def queue_episodes(slug: str, user: Any, *, today: date, now: datetime) -> QuerySet[Episode]:
    """The episodes of an episode queue, in the queue's order, with what a row shows."""
    episodes = queue_matching(slug, user, today=today, now=now)
    return _with_row_facts(episodes, today, now, staff_la_id(user)).order_by(*_ordering(slug))


COUNT_CAP = 1000


class CappedCount(int):
    """A count that stopped at :data:`COUNT_CAP` + 1: it reads "more than 1,000" rather than a
    figure that would need every matching case of the LA counted."""

    @property
    def capped(self) -> bool:
        return self > COUNT_CAP

    def __str__(self) -> str:
        return f"more than {COUNT_CAP:,}" if self.capped else super().__str__()


def capped_count(queryset: QuerySet[Any]) -> CappedCount:
    """How many rows, reading at most :data:`COUNT_CAP` + 1 of them."""
    return CappedCount(queryset.order_by().values("pk")[: COUNT_CAP + 1].count())


def queue_counts(user: Any, *, today: date, now: datetime | None = None) -> dict[str, CappedCount]:
    """How many items each of the user's queues holds, each count capped at :data:`COUNT_CAP` + 1
    rows so that it never reads the whole LA: one query for the case queues (one capped subquery
    each, answered by the queue's partial index), one for matches."""
    queues = queues_for(user)
    now = now or timezone.now()
    slugs = [queue.slug for queue in queues if queue.slug != MATCHES]
    counts: dict[str, CappedCount] = {}
    if slugs:
        parts: list[str] = []
        params: list[Any] = []
        for slug in slugs:
            capped = episodes_for(user).filter(queue_condition(slug, user, today, now)).order_by().values("pk")
            sql, part_params = capped[: COUNT_CAP + 1].query.sql_with_params()
            # Django compiled this SQL; the values travel as parameters.
            parts.append(f"(SELECT count(*) FROM ({sql}) AS capped)")  # noqa: S608
            params.extend(part_params)
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(parts), params)
            row = cursor.fetchone()
        counts = {slug: CappedCount(value) for slug, value in zip(slugs, row or (), strict=True)}
    if any(queue.slug == MATCHES for queue in queues):
        counts[MATCHES] = capped_count(open_matches_for(user))
    return counts


# ----------------------------------------------------------------------------------------------
# Keyset pages: a page starts after the previous page's last row, found through the sort keys
# (and an index), never by counting past every earlier row with OFFSET.


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Any]
    next_after: str  # the "after" value of the next page's link; "" on the last page
    first: bool


def _encode(key: SortKey, value: Any) -> str:
    if value is None:
        return ""
    if key.kind == "bool":
        return "1" if value else "0"
    if key.kind in ("date", "datetime"):
        return str(value.isoformat())
    return str(int(value))


def _decode(key: SortKey, text: str) -> Any:
    if text == "":
        if not key.nulls_last:
            raise ValueError("a value is needed")
        return None
    if key.kind == "bool":
        return {"1": True, "0": False}[text]
    if key.kind == "date":
        return date.fromisoformat(text)
    if key.kind == "datetime":
        return datetime.fromisoformat(text)
    return int(text)


AFTER_SEPARATOR = "~"


def keyset_token(keys: tuple[SortKey, ...], row: Any) -> str:
    return AFTER_SEPARATOR.join(_encode(key, getattr(row, key.name)) for key in keys)


def keyset_values(keys: tuple[SortKey, ...], token: str) -> list[Any] | None:
    """The sort keys' values in a "Next page" link, or None for a missing or mangled one."""
    parts = token.split(AFTER_SEPARATOR) if token else []
    if len(parts) != len(keys):
        return None
    try:
        return [_decode(key, part) for key, part in zip(keys, parts, strict=True)]
    except (ValueError, KeyError):
        return None


def _nothing() -> Q:
    return Q(pk__in=[])


def keyset_after(keys: tuple[SortKey, ...], values: list[Any]) -> Q:
    """Rows that come after ``values`` in the order ``keys``: for each key in turn, equal on the
    keys before it and beyond it on this one (NULLs sort last where the key says so)."""
    after, same = _nothing(), Q()
    for key, value in zip(keys, values, strict=True):
        if value is None:
            beyond = _nothing()
            equal = Q(**{f"{key.name}__isnull": True})
        else:
            beyond = Q(**{f"{key.name}__{'lt' if key.descending else 'gt'}": value})
            if key.nulls_last:
                beyond |= Q(**{f"{key.name}__isnull": True})
            equal = Q(**{key.name: value})
        after |= same & beyond
        same &= equal
    return after


def keyset_page(queryset: QuerySet[Any], keys: tuple[SortKey, ...], after: str, per_page: int = PER_PAGE) -> KeysetPage:
    """One page of ``queryset`` (already in the order ``keys``) after the row ``after`` names:
    one query of ``per_page`` + 1 rows, whichever page it is."""
    values = keyset_values(keys, after)
    if values is not None:
        queryset = queryset.filter(keyset_after(keys, values))
    rows = list(queryset[: per_page + 1])
    more = len(rows) > per_page
    rows = rows[:per_page]
    return KeysetPage(rows=rows, next_after=keyset_token(keys, rows[-1]) if more else "", first=values is None)


def _overdue_parts(today: date, now: datetime, la_id: int | None) -> list[tuple[bool, Q]]:
    """:func:`overdue_condition` split three ways, each part readable in the order of the keys
    after "overdue first" from an index: the cases whose next action date has passed (overdue: an
    index range), the few others that are overdue all the same (a review date passed, an
    escalation late: found from those rows), and the rest (not overdue: an index range, less those
    few)."""
    date_passed = Q(next_action_due__lt=today)
    date_not_passed = Q(next_action_due__gte=today) | Q(next_action_due__isnull=True)
    review_passed = Q(state__in=[State.MONITORING, State.REVIEW_DUE], review_due_on__lt=today)
    escalation_late = _open_escalations(la_id).filter(due_at__lt=now)
    otherwise = (
        Episode.objects.filter(review_passed, local_authority_id=la_id)
        .values("pk")
        .union(escalation_late.values("episode_id"), all=True)
    )
    return [
        (True, date_passed),
        (True, date_not_passed & Q(pk__in=otherwise)),
        # NOT EXISTS (an anti-join, probed per row), not NOT IN (a hash of every late escalation)
        (False, date_not_passed & ~review_passed & ~Q(Exists(escalation_late.filter(episode=OuterRef("pk"))))),
    ]


_NO_ROWS = Q(pk__isnull=True)  # a part of a page that the "after" row has passed: real SQL, no rows


def queue_keyset_page(
    slug: str,
    user: Any,
    matching: QuerySet[Episode],
    after: str,
    *,
    today: date,
    now: datetime,
    per_page: int = PER_PAGE,
) -> KeysetPage:
    """One page of a queue (``matching``: :func:`queue_matching`, filtered or not), exactly as
    :func:`keyset_page` of :func:`queue_episodes` would give it, in one query that reads about a
    page of rows whatever the size of the LA: a subquery finds the page's cases from the sort keys
    alone, and only those rows are joined to what a row shows.

    A queue ordered "overdue first" (``is_overdue``, a value of the moment, not a column) is read
    as the union of :func:`_overdue_parts`, each part in the order of the other keys and cut at a
    page, so that no part sorts the whole queue; the page is the first rows of that union."""
    keys = QUEUE_KEYS[slug]
    values = keyset_values(keys, after)
    la_id = staff_la_id(user)
    if keys[0] == _OVERDUE_FIRST:
        rest = keys[1:]
        parts = []
        for overdue, condition in _overdue_parts(today, now, la_id):
            part = matching.filter(condition)
            if values is not None:
                if values[0] == overdue:
                    part = part.filter(keyset_after(rest, values[1:]))
                elif not values[0]:  # the "after" row is not overdue: no overdue row follows it
                    part = part.filter(_NO_ROWS)
            parts.append(part.order_by(*[key.order_by() for key in rest]).values("pk")[: per_page + 1])
        page = parts[0].union(*parts[1:], all=True)
    else:
        if any(key.name == "safeguarding_due" for key in keys):
            matching = matching.annotate(safeguarding_due=_safeguarding_due(la_id))
        if values is not None:
            matching = matching.filter(keyset_after(keys, values))
        page = matching.order_by(*_ordering(slug)).values("pk")[: per_page + 1]
    episodes = _with_row_facts(episodes_for(user).filter(pk__in=page), today, now, la_id).order_by(*_ordering(slug))
    rows = list(episodes[: per_page + 1])
    more = len(rows) > per_page
    rows = rows[:per_page]
    return KeysetPage(rows=rows, next_after=keyset_token(keys, rows[-1]) if more else "", first=values is None)


# ----------------------------------------------------------------------------------------------
# Likely matches


def possible_matches_for(user: Any) -> QuerySet[PossibleMatch]:
    """Likely matches between children the user may see (both records in the user's LA)."""
    children = children_for(user)
    return PossibleMatch.objects.filter(child__in=children.values("pk"), candidate__in=children.values("pk"))


def open_matches_for(user: Any) -> QuerySet[PossibleMatch]:
    return (
        possible_matches_for(user)
        .filter(status=MatchStatus.OPEN)
        .select_related("child", "candidate", "notification")
        .prefetch_related(
            Prefetch("child__episodes", queryset=episodes_for(user).order_by("-opened_at")),
            Prefetch("candidate__episodes", queryset=episodes_for(user).order_by("-opened_at")),
        )
        .order_by("found_at", "pk")
    )


# ----------------------------------------------------------------------------------------------
# Filters and search


EPISODE_REFERENCE = re.compile(r"EHE-(\d{3})-C(\d+)")
NOTIFICATION_REFERENCE = re.compile(r"EHE-\d{3}-\d+")
UPN_SHAPE = re.compile(r"[A-Z]\d{11}[A-Z0-9]")
FULL_POSTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}")
OUTWARD_CODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?")
NAME_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")


@dataclass(frozen=True)
class QueueFilters:
    state: str = ""
    school: str = ""  # a school's URN, or part of its name
    officer: str = ""  # an officer's id, "none" for unassigned, "" for anyone
    overdue: bool = False
    priority: int | None = None
    search: str = ""
    overdue_check: str = ""  # an OverdueKind: only cases overdue by that check


def episodes_filter(
    episodes: QuerySet[Episode], user: Any, filters: QueueFilters, *, today: date, now: datetime
) -> QuerySet[Episode]:
    if filters.state:
        episodes = episodes.filter(state=filters.state)
    if filters.school:
        episodes = episodes.filter(opened_by_school_id__in=schools_matching(filters.school).values("pk"))
    if filters.officer == "none":
        episodes = episodes.filter(assigned_officer__isnull=True)
    elif filters.officer:
        episodes = episodes.filter(assigned_officer_id=int(filters.officer))
    if filters.overdue:
        episodes = episodes.filter(overdue_condition(today, now, staff_la_id(user)))
    if filters.overdue_check:
        kind = OverdueKind(filters.overdue_check)
        episodes = episodes.filter(overdue_check_condition(kind, overdue_clock_for(user, now)))
    if filters.priority is not None:
        episodes = episodes.filter(priority=filters.priority)
    if filters.search.strip():
        episodes = episodes_search(episodes, user, filters.search)
    return episodes


def episodes_search(episodes: QuerySet[Episode], user: Any, text: str) -> QuerySet[Episode]:
    """Find cases by case or notification reference, UPN, postcode (current address) or name.

    Names match by prefix on the legal and preferred names (every word typed must start one of
    them) or by PostgreSQL full-text search with the "simple" configuration (no stemming: names
    are not English words). A child with a confidential address is never found by postcode, so a
    list cannot reveal where they live.
    """
    text = " ".join(text.split())
    upper = text.upper()
    if match := EPISODE_REFERENCE.fullmatch(upper):
        return episodes.filter(local_authority__dfe_code=match.group(1), pk=int(match.group(2)))
    if NOTIFICATION_REFERENCE.fullmatch(upper):
        return episodes.filter(pk__in=notifications_for(user).filter(reference=upper).values("episode_id"))
    if UPN_SHAPE.fullmatch(normalise_upn(text)):
        upn = normalise_upn(text)
        return episodes.filter(Q(child__upn=upn) | Q(child__former_upns__contains=[upn]))
    postcode = None
    if FULL_POSTCODE.fullmatch(upper):
        postcode = Q(postcode=normalise_postcode(upper))
    elif OUTWARD_CODE.fullmatch(upper):
        postcode = Q(postcode__startswith=f"{upper} ")
    if postcode is not None:
        at_postcode = Address.objects.filter(postcode, kind=AddressKind.CURRENT).values("child_id")
        return episodes.filter(child_id__in=at_postcode, child__confidential_address=False)
    return episodes.filter(child_id__in=children_named(user, text).values("pk"))


NAME_FIELDS = (
    "legal_first_name",
    "legal_middle_names",
    "legal_last_name",
    "preferred_first_name",
    "preferred_last_name",
)


def children_named(user: Any, text: str) -> QuerySet[Any]:
    """Children whose names start with every word typed, or match it by full-text search."""
    words = NAME_WORD.findall(text)
    if not words:
        return children_for(user).none()
    prefix = Q()
    for word in words:
        any_field = Q()
        for name in NAME_FIELDS:
            any_field |= Q(**{f"{name}__istartswith": word})
        prefix &= any_field
    vector = SearchVector(*NAME_FIELDS, config="simple")
    query = SearchQuery(" ".join(words), config="simple", search_type="plain")
    return children_for(user).annotate(name_search=vector).filter(prefix | Q(name_search=query))


def schools_matching(text: str) -> QuerySet[School]:
    """The queues' school filter: a URN (digits only) finds that school; anything else finds the
    schools whose name contains it, ignoring case (in any script: PostgreSQL's ``UPPER``, so
    "ysgol" finds "Ysgol Gymraeg" and "ÅSA" finds "St Åsa's"). A text box rather than a list of
    schools: the schools that notified a large LA run to thousands, which nobody can pick from a
    list and which cost most of the page's time to write out."""
    if text.isascii() and text.isdigit():
        return School.objects.filter(urn=text)
    return School.objects.filter(name__icontains=text)


def officers_of(user: Any) -> QuerySet[User]:
    """The active EHE officers of the user's LA, by name."""
    if not user.local_authority_id:
        return User.objects.none()
    return User.objects.filter(
        local_authority_id=user.local_authority_id, groups__name=Role.EHE_OFFICER.value, is_active=True
    ).order_by("first_name", "last_name", "username")


def absences_for(user: Any, today: date) -> QuerySet[Absence]:
    """Current and future absences: an EHE manager sees every officer of the LA, an officer their own."""
    absences = Absence.objects.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today)).select_related(
        "officer", "recorded_by"
    )
    if user.has_role(Role.EHE_MANAGER):
        absences = absences.filter(officer__local_authority_id=user.local_authority_id)
    else:
        absences = absences.filter(officer=user)
    return absences.order_by("starts_on", "officer__first_name", "officer__last_name", "pk")


# ----------------------------------------------------------------------------------------------
# Escalations for you

# Who works escalations from the screen (the auditor reads; a school user never sees them).
ESCALATION_ROLES = frozenset(
    {Role.EHE_OFFICER, Role.CSPA_DUTY_WORKER, Role.CSPA_MANAGER, Role.EHE_MANAGER, Role.HEAD_OF_SERVICE}
)


def escalations_for(user: Any) -> QuerySet[Escalation]:
    """Every open escalation the user or one of their roles owns, in their LA, the oldest due
    first: owned by them by name, or by a role they hold (an escalation in the team queue is owned
    by the EHE officer role, so it shows to every officer). Notify-only rules are never "for" anyone.

    One query, whatever the number of rows: the row's case, child and people come with it.
    """
    la_id = staff_la_id(user)
    roles = [role.value for role in getattr(user, "roles", frozenset()) if role in ESCALATION_ROLES]
    if la_id is None or not roles:
        return Escalation.objects.none()
    notify_only = [name for name, rule in RULES.items() if rule.notify_only]
    return (
        Escalation.objects.filter(local_authority_id=la_id, resolved_at__isnull=True)
        .exclude(rule__in=notify_only)
        .filter(Q(owner_user_id=user.pk) | Q(owner_user__isnull=True, owner_role__in=roles))
        .select_related("episode__child", "episode__local_authority", "owner_user", "acknowledged_by")
        .order_by(F("due_at").asc(nulls_last=True), "raised_at", "pk")
    )


def escalation_for(user: Any, pk: int | str) -> Escalation:
    """One escalation of the user's LA (any other is a 404); whether they may act on it is the
    service's question (``escalation_may_act``)."""
    la_id = staff_la_id(user)
    if la_id is None:
        raise Http404("No such escalation")
    return get_object_or_404(
        Escalation.objects.filter(local_authority_id=la_id).select_related(
            "episode__child", "episode__local_authority", "owner_user", "acknowledged_by"
        ),
        pk=pk,
    )


@dataclass(frozen=True)
class EscalationRow:
    escalation: Escalation
    summary: str
    overdue: bool


def escalation_row(escalation: Escalation, now: datetime) -> EscalationRow:
    """What a list shows of one escalation: its rule in words, and whether its level is overdue."""
    rule = RULES.get(escalation.rule)
    return EscalationRow(
        escalation=escalation,
        summary=rule.summary if rule else escalation.rule,
        overdue=escalation.due_at is not None and escalation.due_at < now,
    )
