"""Retention: anonymising a child's records once the LA no longer keeps them.

Each LA keeps a child's records until the child's Nth birthday
(``LocalAuthority.retention_until_birthday``, 25 by default), and only once every case of the
child is closed. Then :func:`retention_apply` anonymises them everywhere they live (the places of
``workflows.personal_data``: the child, addresses, parents and carers no other kept child shares,
cases, their history, logs, messages, schools' notifications, imports), and keeps what the DfE
return counts: sex, the date of birth moved within its part of the year
(``personal_data.dob_generalised``), reason codes, states and dates. A legal hold in force keeps a
child's records as they are.

Append-only and immutable rows are protected by database triggers. This module is the only code
that lifts them (``tests/workflows/test_retention_lint.py`` fails the build otherwise), and only
for the places' own updates of the children being anonymised.

Work goes in chunks of children, each chunk its own transaction with its children's rows locked:
a run stopped part-way keeps the chunks it finished, and the next run carries on. Runs are safe
to repeat (an anonymised child is never due again) and to overlap (a chunk skips rows another
run holds). Each run and each child anonymised is logged (``RetentionRun``, ``Anonymisation``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pghistory
import pgtrigger
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from ehe_register.models import (
    Anonymisation,
    Child,
    ChildPerson,
    LegalHold,
    LocalAuthority,
    RetentionRun,
    RetentionTrigger,
)
from workflows.models import Episode
from workflows.personal_data import Subjects, places, protected_triggers
from workflows.states import State

logger = logging.getLogger(__name__)

CHUNK_SIZE = 200


def retention_birthday(date_of_birth: date, years: int) -> date:
    """The day a child born on ``date_of_birth`` turns ``years`` (29 February birthdays fall on
    1 March in other years, the legal convention in England and Wales)."""
    try:
        return date_of_birth.replace(year=date_of_birth.year + years)
    except ValueError:
        return date(date_of_birth.year + years, 3, 1)


def born_on_or_before(day: date, years: int) -> date:
    """The latest date of birth whose ``years``-th birthday is on or before ``day``."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February: a child born on 28 February has had the birthday; 1 March has not
        return date(day.year - years, 2, 28)


def hold_in_force(day: date) -> Exists:
    """Whether the child (the outer row) has a legal hold in force on ``day``."""
    return Exists(
        LegalHold.objects.filter(child=OuterRef("pk"), lifted_at__isnull=True).filter(
            Q(until__isnull=True) | Q(until__gte=day)
        )
    )


def _open_case() -> Exists:
    return Exists(Episode.objects.filter(child=OuterRef("pk")).exclude(state=State.CLOSED))


def children_due(local_authority: LocalAuthority, day: date) -> QuerySet[Child]:
    """The LA's children whose records are due for anonymisation on ``day``: past the retention
    birthday, every case closed, not yet anonymised. Held children are included: they are due,
    and kept (filter with :func:`hold_in_force`)."""
    cutoff = born_on_or_before(day, local_authority.retention_until_birthday)
    return Child.objects.filter(
        local_authority=local_authority, anonymised_at__isnull=True, date_of_birth__lte=cutoff
    ).exclude(_open_case())


def authorities_in_scope(la_code: str | None) -> QuerySet[LocalAuthority]:
    authorities = LocalAuthority.objects.filter(uses_service=True).order_by("dfe_code")
    if la_code:
        authorities = LocalAuthority.objects.filter(dfe_code=la_code)
        if not authorities.exists():
            raise LocalAuthority.DoesNotExist(f"No local authority with the DfE code {la_code}")
    return authorities


# --------------------------------------------------------------------------------------------------
# What is coming: the manager's page.


@dataclass(frozen=True)
class DueRecord:
    """One child whose records will be anonymised by a coming run (or are kept by a hold)."""

    child: Child
    birthday: date
    run_on: date
    latest_case: Episode | None
    holds: list[LegalHold]

    @property
    def held(self) -> bool:
        return bool(self.holds)


def first_run_on_or_after(day: date) -> date:
    """The monthly run (the first day of each month) that first finds a record due on ``day``."""
    return day if day.day == 1 else (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def retention_coming(local_authority: LocalAuthority, today: date) -> tuple[date, date, list[DueRecord]]:
    """The children whose records the next two monthly runs will anonymise: the next run (the first
    of next month) and the one after, so that a manager sees a month ahead at least. Returns the two
    run days and the records, soonest first; a record held on its run day is listed as held."""
    next_run = first_run_on_or_after(today + timedelta(days=1))
    run_after = first_run_on_or_after(next_run + timedelta(days=1))
    due = list(children_due(local_authority, run_after).order_by("date_of_birth", "pk").prefetch_related("legal_holds"))
    latest: dict[int, Episode] = {}
    episodes = Episode.objects.filter(child__in=due).select_related("local_authority").order_by("child_id", "opened_at")
    for episode in episodes:
        latest[episode.child_id] = episode
    records = []
    for child in due:
        birthday = retention_birthday(child.date_of_birth, local_authority.retention_until_birthday)
        run_on = max(next_run, first_run_on_or_after(birthday))
        holds = [hold for hold in child.legal_holds.all() if hold.in_force_on(run_on)]
        records.append(DueRecord(child, birthday, run_on, latest.get(child.pk), holds))
    return next_run, run_after, sorted(records, key=lambda r: (r.run_on, r.birthday, r.child.pk))


# --------------------------------------------------------------------------------------------------
# The run.


@dataclass
class RetentionResult:
    """What a run did (or, for a dry run, would do), per LA code and in total."""

    as_of: date
    dry_run: bool
    run_id: int | None = None
    due: Counter[str] = field(default_factory=Counter)
    held: Counter[str] = field(default_factory=Counter)
    anonymised: Counter[str] = field(default_factory=Counter)
    people: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    chunks: int = 0


def retention_apply(
    *,
    as_of: datetime,
    trigger: str = RetentionTrigger.COMMAND,
    la_code: str | None = None,
    dry_run: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> RetentionResult:
    """Anonymise every record due on the day of ``as_of`` (see the module docstring).

    A dry run writes nothing: it counts the children due, held, and the rows each place would
    change. Raises ``LocalAuthority.DoesNotExist`` for an unknown ``la_code``.
    """
    if timezone.is_naive(as_of):
        raise ValueError("as_of must be timezone-aware")
    day = timezone.localdate(as_of)
    authorities = list(authorities_in_scope(la_code))
    result = RetentionResult(as_of=day, dry_run=dry_run)
    if dry_run:
        for la in authorities:
            _dry_run(la, day, result)
        return result
    run = RetentionRun.objects.create(
        started_at=timezone.now(),
        as_of=day,
        trigger=trigger,
        local_authority=authorities[0] if la_code else None,
    )
    result.run_id = run.pk
    for la in authorities:
        due = children_due(la, day)
        result.due[la.dfe_code] = due.count()
        result.held[la.dfe_code] = due.filter(hold_in_force(day)).count()
        while _chunk_anonymise(run, la, day, chunk_size, result):
            result.chunks += 1
    RetentionRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(),
        children_held=sum(result.held.values()),
    )
    logger.info(
        "Retention run %s for %s: %d children anonymised, %d held, %d parents or carers",
        run.pk,
        day,
        sum(result.anonymised.values()),
        sum(result.held.values()),
        sum(result.people.values()),
    )
    return result


def _dry_run(la: LocalAuthority, day: date, result: RetentionResult) -> None:
    due = children_due(la, day)
    result.due[la.dfe_code] = due.count()
    result.held[la.dfe_code] = due.filter(hold_in_force(day)).count()
    ids = tuple(due.exclude(hold_in_force(day)).values_list("pk", flat=True))
    result.anonymised[la.dfe_code] = len(ids)
    if not ids:
        return
    people = _people_released(la.pk, ids)
    result.people[la.dfe_code] = len(people)
    for subjects in (Subjects(la.pk, child_ids=ids), Subjects(la.pk, person_ids=people)):
        for place in places():
            result.rows[place.name] += place.count(subjects)


def _people_released(la_id: int, child_ids: tuple[int, ...]) -> tuple[int, ...]:
    """Parents and carers of these children whose every other child is anonymised already."""
    linked = ChildPerson.objects.filter(child_id__in=child_ids).values("person_id")
    still_kept = (
        ChildPerson.objects.filter(person_id__in=linked, child__anonymised_at__isnull=True)
        .exclude(child_id__in=child_ids)
        .values("person_id")
    )
    return tuple(
        ChildPerson.objects.filter(person_id__in=linked, person__local_authority_id=la_id)
        .exclude(person_id__in=still_kept)
        .order_by("person_id")
        .values_list("person_id", flat=True)
        .distinct()
    )


def _chunk_anonymise(
    run: RetentionRun, la: LocalAuthority, day: date, chunk_size: int, result: RetentionResult
) -> bool:
    """Anonymise one chunk of due, unheld children in one transaction; False when none is left."""
    now = timezone.now()
    # The triggers are lifted for this thread's session around the transaction (pgtrigger sets and
    # clears a session setting, which must not run inside a transaction that has failed).
    with pgtrigger.ignore(*protected_triggers()), transaction.atomic():
        ids = tuple(
            children_due(la, day)
            .exclude(hold_in_force(day))
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk_size]
        )
        if not ids:
            return False
        rows: Counter[str] = Counter()
        with pghistory.context(change="retention", retention_run=run.pk):
            Child.objects.filter(pk__in=ids).update(anonymised_at=now)
            children = Subjects(la.pk, child_ids=ids)
            for place in places():
                rows[place.name] += place.anonymise(children, as_of=now)
            people = _people_released(la.pk, ids)
            if people:
                released = Subjects(la.pk, person_ids=people)
                for place in places():
                    rows[place.name] += place.anonymise(released, as_of=now)
        Anonymisation.objects.bulk_create(
            [Anonymisation(run=run, local_authority=la, child_id=pk, at=now) for pk in ids]
        )
        locked = RetentionRun.objects.select_for_update().get(pk=run.pk)
        totals = Counter(locked.rows) + rows
        RetentionRun.objects.filter(pk=run.pk).update(
            children_anonymised=locked.children_anonymised + len(ids),
            people_anonymised=locked.people_anonymised + len(people),
            rows=dict(sorted((k, v) for k, v in totals.items() if v)),
        )
    result.anonymised[la.dfe_code] += len(ids)
    result.people[la.dfe_code] += len(people)
    result.rows.update(rows)
    return True
