"""Every place personal data about a child or a parent lives, in one registry.

Retention (``workflows.services.retention``) anonymises a child's records place by place, and a
subject access export (``workflows.services.subject_access``) reads them place by place, from this
one list: a new table that holds personal data is added here once, and both follow. An app above
``workflows`` (``imports``, for its batches and files) adds its own places with
:func:`place_register` from its ``AppConfig.ready``; ``workflows`` never imports it.

A place names the rows it holds about some children (and their cases) or some parents and carers
(:class:`Subjects`), says how to anonymise them, and which columns a subject access export shows.
Append-only and immutable rows are protected by database triggers; a place names its trigger and
only the retention service lifts it (``workflows.services.retention``, checked by
``tests/workflows/test_retention_lint.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any, Protocol

from django.db import models
from django.db.models import Case, F, Func, Q, QuerySet, Value, When
from django.db.models.functions import Cast, ExtractYear
from django.utils import timezone

from ehe_register.models import (
    AccessLog,
    Address,
    AddressCheck,
    Child,
    ChildMerge,
    ChildPerson,
    LegalHold,
    OffRollNotification,
    Person,
    PossibleMatch,
    SchoolContactRequest,
)
from notifications.models import Message
from workflows.models import (
    Activity,
    AuditAction,
    AuditCase,
    AuditFinding,
    Concern,
    Episode,
    Escalation,
    EscalationEvent,
    Review,
    TransitionLog,
)

REMOVED = ""  # what free text becomes
ANONYMISED_FIRST_NAME = "Anonymised"
ANONYMISED_LAST_NAME = "record"
ANONYMISED_EMAIL = "anonymised@anonymised.invalid"

# Keys of JSON payloads (transition log, outbound messages) that hold codes, ids, dates, counts or
# the service's own wording, never anything typed about a person: these are kept, so that what the
# DfE return reads (``served_on``) survives. Every other string in a payload is removed.
SAFE_PAYLOAD_KEYS = frozenset(
    {
        "case_reference",
        "closure_reason",
        "decision",
        "due_at",
        "episode_id",
        "escalation_id",
        "front_door_name",
        "further_concern",
        "granted",
        "held_on",
        "into",
        "la_name",
        "level",
        "next_action_due",
        "next_review_on",
        "outcome",
        "path",
        "request_id",
        "routing",
        "rule",
        "safeguarding_triggers",
        "served_on",
        "state",
        "summary",
    }
)


def payload_scrubbed(payload: Any) -> Any:
    """``payload`` with every string, list and object under a key outside ``SAFE_PAYLOAD_KEYS``
    emptied (numbers, booleans and nulls are kept: they are ids, counts and flags)."""
    if not isinstance(payload, dict):
        return {}
    return {key: value if key in SAFE_PAYLOAD_KEYS else _emptied(value) for key, value in payload.items()}


def _emptied(value: Any) -> Any:
    if isinstance(value, str):
        return REMOVED
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {}
    return value


def dob_generalised(field_name: str) -> Case:
    """A date of birth moved to the first day of its part of the year: 1 September for
    September to December, 1 January for January to March, 1 April for April to August.

    Those are the parts in which a child's compulsory school age starts on the same prescribed
    day (31 December, 31 March, 31 August), and all three lie inside one academic year, so year
    group, compulsory school age and every DfE figure come out the same for every census date,
    while the day of birth itself is gone.
    """

    def first_of(month: int) -> Func:
        year = Cast(ExtractYear(field_name), models.IntegerField())  # EXTRACT gives a numeric
        return Func(year, Value(month), Value(1), function="make_date", output_field=models.DateField())

    month = f"{field_name}__month"
    return Case(
        When(**{f"{month}__gte": 9}, then=first_of(9)),
        When(**{f"{month}__lte": 3}, then=first_of(1)),
        default=first_of(4),
        output_field=models.DateField(),
    )


@dataclass(frozen=True)
class Subjects:
    """Whose records: children of one LA (with their cases), and parents or carers of that LA.

    ``focus`` says whose request a subject access export answers ("child" or "person"): rows
    about the others named here are then flagged for review before release.
    """

    local_authority_id: int
    child_ids: tuple[int, ...] = ()
    person_ids: tuple[int, ...] = ()
    focus: str = "child"

    @cached_property
    def episode_ids(self) -> list[int]:
        if not self.child_ids:
            return []
        return list(Episode.objects.filter(child_id__in=self.child_ids).values_list("pk", flat=True))

    @cached_property
    def case_references(self) -> list[str]:
        episodes = Episode.objects.filter(pk__in=self.episode_ids).select_related("local_authority")
        return [episode.reference for episode in episodes]

    @cached_property
    def escalation_ids(self) -> list[int]:
        return list(Escalation.objects.filter(episode_id__in=self.episode_ids).values_list("pk", flat=True))

    @cached_property
    def notification_references(self) -> list[str]:
        return list(OffRollNotification.objects.filter(child_id__in=self.child_ids).values_list("reference", flat=True))


@dataclass
class Table:
    """One place's rows for a subject access export: a CSV file in the zip and a table in the summary.

    ``review`` has one entry per row: why someone must read the row before it is released (another
    child or person named in it, or a record that is about someone else too), or "".
    """

    name: str
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    review: list[str] = field(default_factory=list)


class Reviewer(Protocol):
    """What a place asks when it flags rows for redaction review (``workflows.services.subject_access``)."""

    focus: str

    def names_in(self, *texts: Any) -> str:
        """Why the texts need a second look (other people's names found in them), or ""."""
        ...  # pragma: no cover


class Place(Protocol):
    """A place personal data lives. ``protected_by`` names the trigger keeping its rows
    append-only ("" when none does)."""

    @property
    def name(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def protected_by(self) -> str: ...

    def count(self, subjects: Subjects) -> int: ...

    def anonymise(self, subjects: Subjects, *, as_of: datetime) -> int: ...

    def export(self, subjects: Subjects, reviewer: Reviewer) -> Table: ...


def shown(value: Any) -> str:
    """A value as a CSV cell: dates as 3 March 2026, times with the hour, lists joined, blanks blank."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return f"{local.day} {local:%B %Y, %H:%M}"
    if isinstance(value, date):
        return f"{value.day} {value:%B %Y}"
    if isinstance(value, list | tuple):
        return "; ".join(shown(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {shown(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    return str(value)


@dataclass(frozen=True)
class ModelPlace:
    """A place that is one model's rows, chosen by ``rows``.

    ``anonymised`` maps a column to what it becomes (a value or an expression); ``payloads`` are
    JSON columns scrubbed key by key (:func:`payload_scrubbed`); ``protected_by`` names the
    trigger that keeps the rows append-only, which retention lifts for this update only.
    ``columns`` are what an export shows, ``free_text`` the columns read for other people's names,
    and ``about_others`` (focus -> reason) flags every row for a request of that focus.
    """

    name: str
    title: str
    model: type[models.Model]
    rows: Callable[[Subjects], QuerySet[Any]]
    columns: Sequence[tuple[str, str]]
    anonymised: dict[str, Any] = field(default_factory=dict)
    payloads: tuple[str, ...] = ()
    protected_by: str = ""
    free_text: tuple[str, ...] = ()
    about_others: dict[str, str] = field(default_factory=dict)

    def count(self, subjects: Subjects) -> int:
        """How many rows anonymising would change (none, for a place with nothing to anonymise)."""
        if not self.anonymised and not self.payloads:
            return 0
        return self.rows(subjects).count()

    def anonymise(self, subjects: Subjects, *, as_of: datetime) -> int:
        changed = 0
        if self.anonymised:
            changed = self.rows(subjects).update(**self.anonymised)
        if self.payloads:
            rows = list(self.rows(subjects).only("pk", *self.payloads))
            for row in rows:
                for name in self.payloads:
                    setattr(row, name, payload_scrubbed(getattr(row, name)))
            self.model._default_manager.bulk_update(rows, list(self.payloads), batch_size=500)
            changed = max(changed, len(rows))
        return changed

    def export(self, subjects: Subjects, reviewer: Reviewer) -> Table:
        table = Table(self.name, self.title, [label for _, label in self.columns])
        flag_all = self.about_others.get(subjects.focus, "")
        paths = [path for path, _ in self.columns]
        text_paths = list(self.free_text)
        for values in self.rows(subjects).order_by("pk").values_list(*paths, *text_paths):
            row = dict(zip(paths + [f"text:{p}" for p in text_paths], values, strict=True))
            table.rows.append([shown(row[path]) for path in paths])
            reasons = [flag_all] if flag_all else []
            named = reviewer.names_in(*(row[f"text:{p}"] for p in text_paths))
            if named:
                reasons.append(named)
            table.review.append(". ".join(reasons))
        return table


# ------------------------------------------------------------------------------------------------
# The places, in the order an export lists them.

_CHILD = {"person": "The child's own record: release to a parent only as the law allows"}
_CASE = {"person": "About the child's case: release to a parent only as the law allows"}
_PARENT = {"child": "A parent or carer's details (a third party to the child)"}
_SOMEONE_ELSE = {
    "child": "Names another child record of the register",
    "person": "Names another child record of the register",
}


def _children(s: Subjects) -> Q:
    return Q(child_id__in=s.child_ids)


def _episodes(s: Subjects) -> Q:
    return Q(episode_id__in=s.episode_ids)


CHILD_RECORD = ModelPlace(
    name="child",
    title="The child's record",
    model=Child,
    rows=lambda s: Child.objects.filter(pk__in=s.child_ids),
    columns=[
        ("pk", "Child record number"),
        ("legal_first_name", "First name"),
        ("legal_middle_names", "Middle names"),
        ("legal_last_name", "Surname"),
        ("preferred_first_name", "Preferred first name"),
        ("preferred_last_name", "Preferred surname"),
        ("former_names", "Former names"),
        ("date_of_birth", "Date of birth"),
        ("sex", "Sex"),
        ("upn", "UPN"),
        ("former_upns", "Former UPNs"),
        ("nhs_number", "NHS number"),
        ("sen_status", "Special educational needs"),
        ("social_care_status", "Social care"),
        ("social_worker_email", "Social worker's email"),
        ("confidential_address", "Confidential address"),
        ("interpreter_needed", "Interpreter needed"),
        ("language", "Language"),
        ("contact_preferences", "Contact preferences"),
        ("school_year_group", "Year group the school gave"),
        ("created_at", "Recorded"),
    ],
    anonymised={
        "legal_first_name": ANONYMISED_FIRST_NAME,
        "legal_middle_names": REMOVED,
        "legal_last_name": ANONYMISED_LAST_NAME,
        "preferred_first_name": REMOVED,
        "preferred_last_name": REMOVED,
        "former_names": [],
        "date_of_birth": dob_generalised("date_of_birth"),
        "upn": REMOVED,
        "former_upns": [],
        "nhs_number": REMOVED,
        "social_worker_email": REMOVED,
        "language": REMOVED,
        "contact_preferences": REMOVED,
    },
    about_others=_CHILD,
)

# History rows: the same columns, every version of the record. The event tables are append-only.
_CHILD_HISTORY_ANONYMISED = {
    key: value if key != "date_of_birth" else dob_generalised("date_of_birth")
    for key, value in CHILD_RECORD.anonymised.items()
}


def _history_place(
    name: str,
    title: str,
    tracked: type[models.Model],
    rows: Callable[[Subjects], Q],
    columns: Sequence[tuple[str, str]],
    anonymised: dict[str, Any],
    about_others: dict[str, str],
    free_text: tuple[str, ...] = (),
) -> ModelPlace:
    event_model: Any = tracked.pgh_event_model  # type: ignore[attr-defined]
    label = event_model._meta.label
    return ModelPlace(
        name=name,
        title=title,
        model=event_model,
        rows=lambda s: event_model.objects.filter(rows(s)),
        columns=[("pgh_created_at", "When"), ("pgh_label", "Change"), *columns],
        anonymised=anonymised,
        protected_by=f"{label}:append_only",
        free_text=free_text,
        about_others=about_others,
    )


CHILD_HISTORY = _history_place(
    "child_history",
    "Changes to the child's record",
    Child,
    lambda s: Q(pgh_obj_id__in=s.child_ids),
    [c for c in CHILD_RECORD.columns if c[0] != "created_at"],
    _CHILD_HISTORY_ANONYMISED,
    _CHILD,
)

_ADDRESS_COLUMNS = [
    ("kind", "Kind"),
    ("line_1", "Address line 1"),
    ("line_2", "Address line 2"),
    ("town", "Town or city"),
    ("county", "County"),
    ("postcode", "Postcode"),
    ("uprn", "UPRN"),
    ("valid_from", "From"),
    ("valid_to", "To"),
]
_ADDRESS_ANONYMISED = {
    "line_1": ANONYMISED_FIRST_NAME,
    "line_2": REMOVED,
    "town": REMOVED,
    "county": REMOVED,
    "postcode": REMOVED,
    "uprn": REMOVED,
}
ADDRESSES = ModelPlace(
    name="addresses",
    title="Addresses",
    model=Address,
    rows=lambda s: Address.objects.filter(_children(s)),
    columns=[("pk", "Address number"), *_ADDRESS_COLUMNS, ("created_at", "Recorded")],
    anonymised=_ADDRESS_ANONYMISED,
    about_others=_CHILD,
)
ADDRESS_HISTORY = _history_place(
    "address_history",
    "Changes to addresses",
    Address,
    lambda s: Q(child_id__in=s.child_ids),
    [("pgh_obj_id", "Address number"), *_ADDRESS_COLUMNS],
    _ADDRESS_ANONYMISED,
    _CHILD,
)
ADDRESS_CHECKS = ModelPlace(
    name="address_checks",
    title="Checks of addresses and contact details",
    model=AddressCheck,
    rows=lambda s: AddressCheck.objects.filter(address__child_id__in=s.child_ids),
    columns=[
        ("address_id", "Address number"),
        ("checked_at", "When"),
        ("method", "How"),
        ("outcome", "Outcome"),
        ("school__name", "School"),
        ("notes", "Notes"),
    ],
    anonymised={"notes": REMOVED},
    free_text=("notes",),
    about_others=_CASE,
)

_PERSON_COLUMNS = [
    ("first_name", "First name"),
    ("last_name", "Surname"),
    ("emergency_phone", "Emergency phone"),
    ("other_phone", "Other phone"),
    ("email", "Email"),
    ("address_line_1", "Address line 1"),
    ("address_line_2", "Address line 2"),
    ("address_town", "Town or city"),
    ("postcode", "Postcode"),
]
_PERSON_ANONYMISED = {
    "first_name": ANONYMISED_FIRST_NAME,
    "last_name": "person",
    "emergency_phone": REMOVED,
    "other_phone": REMOVED,
    "email": REMOVED,
    "address_line_1": REMOVED,
    "address_line_2": REMOVED,
    "address_town": REMOVED,
    "postcode": REMOVED,
}
PEOPLE = ModelPlace(
    name="parents_and_carers",
    title="Parents and carers",
    model=Person,
    rows=lambda s: Person.objects.filter(pk__in=s.person_ids),
    columns=[("pk", "Person number"), *_PERSON_COLUMNS, ("created_at", "Recorded")],
    anonymised=_PERSON_ANONYMISED,
    about_others=_PARENT,
)
PEOPLE_HISTORY = _history_place(
    "parents_and_carers_history",
    "Changes to parents' and carers' records",
    Person,
    lambda s: Q(pgh_obj_id__in=s.person_ids),
    [("pgh_obj_id", "Person number"), *_PERSON_COLUMNS],
    _PERSON_ANONYMISED,
    _PARENT,
)
FAMILY_LINKS = ModelPlace(
    name="family_links",
    title="How parents and carers are linked to children",
    model=ChildPerson,
    # A child's request shows the child's own links; a parent's, the parent's (never a sibling's).
    rows=lambda s: ChildPerson.objects.filter(
        Q(child_id__in=s.child_ids) if s.focus == "child" else Q(person_id__in=s.person_ids)
    ),
    columns=[
        ("child_id", "Child record number"),
        ("person_id", "Person number"),
        ("relationship", "Relationship"),
        ("parental_responsibility", "Parental responsibility"),
        ("lives_with_child", "Lives with the child"),
        ("is_educating_parent", "Educating parent"),
        ("educating_hours_per_week", "Hours a week"),
    ],
)

CASES = ModelPlace(
    name="cases",
    title="Cases",
    model=Episode,
    rows=lambda s: Episode.objects.filter(child_id__in=s.child_ids),
    columns=[
        ("pk", "Case number"),
        ("state", "State"),
        ("source", "Source"),
        ("source_detail", "Source detail"),
        ("opened_by_school__name", "School that notified"),
        ("received_on", "Received"),
        ("opened_at", "Opened"),
        ("assigned_officer__username", "Assigned officer"),
        ("reason_code", "Reason given"),
        ("review_due_on", "Review due"),
        ("s437_served_on", "Section 437 notice served"),
        ("s437_served_how", "How it was served"),
        ("attendance_order_served_on", "School attendance order served"),
        ("closure_reason", "Closure reason"),
        ("closure_text", "Closure detail"),
        ("closed_with_concerns", "Closed with concerns"),
        ("closed_at", "Closed"),
    ],
    anonymised={"source_detail": REMOVED, "s437_served_how": REMOVED, "closure_text": REMOVED},
    free_text=("source_detail", "closure_text"),
    about_others=_CASE,
)
CASE_HISTORY = _history_place(
    "case_history",
    "Changes to cases",
    Episode,
    lambda s: Q(pgh_obj_id__in=s.episode_ids),
    [
        ("pgh_obj_id", "Case number"),
        ("state", "State"),
        ("assigned_officer_id", "Assigned officer (user number)"),
        ("next_action_due", "Next action due"),
        ("review_due_on", "Review due"),
        ("source_detail", "Source detail"),
        ("s437_served_how", "How the section 437 notice was served"),
        ("closure_text", "Closure detail"),
    ],
    {"source_detail": REMOVED, "s437_served_how": REMOVED, "closure_text": REMOVED},
    _CASE,
    free_text=("source_detail", "closure_text"),
)
TRANSITIONS = ModelPlace(
    name="case_decisions",
    title="Decisions and changes of state on the cases",
    model=TransitionLog,
    rows=lambda s: TransitionLog.objects.filter(_episodes(s)),
    columns=[
        ("episode_id", "Case number"),
        ("at", "When"),
        ("transition", "Decision"),
        ("from_state", "From"),
        ("to_state", "To"),
        ("actor_name", "By"),
        ("reason", "Reason"),
        ("payload", "Details"),
    ],
    anonymised={"reason": REMOVED},
    payloads=("payload",),
    protected_by="workflows.TransitionLog:transition_log_append_only",
    free_text=("reason", "payload"),
    about_others=_CASE,
)
ACTIVITIES = ModelPlace(
    name="contacts_and_visits",
    title="Contacts and visits",
    model=Activity,
    rows=lambda s: Activity.objects.filter(_episodes(s)),
    columns=[
        ("episode_id", "Case number"),
        ("occurred_at", "When"),
        ("kind", "Kind"),
        ("outcome", "Outcome"),
        ("summary", "Summary"),
        ("child_seen", "Child seen"),
        ("child_seen_alone", "Child seen alone"),
        ("child_views", "Child's views"),
        ("safeguarding_concern", "Safeguarding concern"),
        ("recorded_by__username", "Recorded by"),
    ],
    anonymised={"summary": REMOVED, "child_views": REMOVED},
    free_text=("summary", "child_views"),
    about_others=_CASE,
)
REVIEWS = ModelPlace(
    name="reviews",
    title="Reviews",
    model=Review,
    rows=lambda s: Review.objects.filter(_episodes(s)),
    columns=[
        ("episode_id", "Case number"),
        ("due_on", "Due"),
        ("held_on", "Held"),
        ("outcome", "Outcome"),
        ("next_review_on", "Next review"),
        ("notes", "Notes"),
    ],
    anonymised={"notes": REMOVED},
    free_text=("notes",),
    about_others=_CASE,
)
ESCALATIONS = ModelPlace(
    name="escalations",
    title="Escalations",
    model=Escalation,
    rows=lambda s: Escalation.objects.filter(_episodes(s)),
    columns=[
        ("episode_id", "Case number"),
        ("rule", "Rule"),
        ("level", "Level"),
        ("raised_at", "Raised"),
        ("due_at", "Due"),
        ("acknowledged_at", "Acknowledged"),
        ("decision", "Decision"),
        ("decision_reference", "Front door reference"),
        ("decision_note", "Decision note"),
        ("resolved_at", "Resolved"),
    ],
    anonymised={"decision_reference": REMOVED, "decision_note": REMOVED},
    free_text=("decision_note",),
    about_others=_CASE,
)
ESCALATION_EVENTS = ModelPlace(
    name="escalation_history",
    title="What happened on each escalation",
    model=EscalationEvent,
    rows=lambda s: EscalationEvent.objects.filter(escalation_id__in=s.escalation_ids),
    columns=[
        ("escalation__episode_id", "Case number"),
        ("escalation__rule", "Rule"),
        ("at", "When"),
        ("kind", "What"),
        ("level", "Level"),
        ("actor_name", "By"),
        ("note", "Note"),
    ],
    anonymised={"note": REMOVED},
    protected_by="workflows.EscalationEvent:escalation_event_append_only",
    free_text=("note",),
    about_others=_CASE,
)
CONCERNS = ModelPlace(
    name="safeguarding_concerns",
    title="Safeguarding concerns",
    model=Concern,
    rows=lambda s: Concern.objects.filter(_episodes(s)),
    columns=[
        ("episode_id", "Case number"),
        ("raised_at", "Raised"),
        ("source", "Where it was raised"),
        ("author_name", "By"),
        ("text", "Concern"),
    ],
    anonymised={"text": REMOVED},
    protected_by="workflows.Concern:concern_append_only",
    free_text=("text",),
    about_others=_CASE,
)
NOTIFICATIONS = ModelPlace(
    name="school_notifications",
    title="Schools' notifications (as each school sent it)",
    model=OffRollNotification,
    rows=lambda s: OffRollNotification.objects.filter(_children(s)),
    columns=[
        ("reference", "Reference"),
        ("school__name", "School"),
        ("submitted_at", "Sent"),
        ("legal_first_name", "First name"),
        ("legal_last_name", "Surname"),
        ("date_of_birth", "Date of birth"),
        ("upn", "UPN"),
        ("postcode", "Postcode"),
        ("notice_received_on", "Parent's notice received"),
        ("removed_from_roll_on", "Removed from roll"),
        ("reason_code", "Reason given"),
        ("safeguarding_concerns", "Safeguarding concerns"),
        ("snapshot", "The form as sent"),
    ],
    anonymised={
        "snapshot": {},
        "legal_first_name": ANONYMISED_FIRST_NAME,
        "legal_last_name": ANONYMISED_LAST_NAME,
        "date_of_birth": dob_generalised("date_of_birth"),
        "upn": REMOVED,
        "postcode": REMOVED,
    },
    protected_by="ehe_register.OffRollNotification:offroll_notification_immutable",
    free_text=("snapshot",),
    about_others={
        "child": "Carries the parents' details as the school gave them",
        "person": "Carries the child's details as the school gave them",
    },
)
SCHOOL_REQUESTS = ModelPlace(
    name="school_requests",
    title="Requests to the school to confirm contact details",
    model=SchoolContactRequest,
    rows=lambda s: SchoolContactRequest.objects.filter(_episodes(s)),
    columns=[
        ("episode_id", "Case number"),
        ("school__name", "School"),
        ("requested_at", "Asked"),
        ("answered_at", "Answered"),
        ("answered_line_1", "Address line 1 the school gave"),
        ("answered_line_2", "Address line 2"),
        ("answered_town", "Town or city"),
        ("answered_postcode", "Postcode"),
        ("answered_phone", "Parent's phone the school gave"),
        ("outcome", "Outcome"),
    ],
    anonymised={
        "answered_line_1": REMOVED,
        "answered_line_2": REMOVED,
        "answered_town": REMOVED,
        "answered_postcode": REMOVED,
        "answered_phone": REMOVED,
    },
    about_others=_CASE,
)
POSSIBLE_MATCHES = ModelPlace(
    name="possible_matches",
    title="Other records that might be the same child",
    model=PossibleMatch,
    rows=lambda s: PossibleMatch.objects.filter(Q(child_id__in=s.child_ids) | Q(candidate_id__in=s.child_ids)),
    columns=[
        ("child_id", "Child record number"),
        ("candidate_id", "Other child record number"),
        ("reasons", "Why"),
        ("status", "Outcome"),
        ("found_at", "Found"),
        ("resolved_at", "Resolved"),
    ],
    about_others=_SOMEONE_ELSE,
)
MERGES = ModelPlace(
    name="merges",
    title="Duplicate records merged",
    model=ChildMerge,
    rows=lambda s: ChildMerge.objects.filter(Q(kept_child_id__in=s.child_ids) | Q(duplicate_child_id__in=s.child_ids)),
    columns=[
        ("kept_child_id", "Kept child record number"),
        ("duplicate_child_id", "Merged child record number"),
        ("merged_at", "Merged"),
        ("undone_at", "Undone"),
    ],
)
ACCESS_LOG = ModelPlace(
    name="access_log",
    title="Who looked at or exported the child's record",
    model=AccessLog,
    rows=lambda s: AccessLog.objects.filter(_children(s)),
    columns=[
        ("child_id", "Child record number"),
        ("at", "When"),
        ("user__username", "Who"),
        ("action", "What"),
        ("path", "Page"),
    ],
    # A page address names records by number; only a query string could carry a search's words.
    anonymised={"path": Func(F("path"), Value(r"\?.*$"), Value(""), function="regexp_replace")},
    protected_by="ehe_register.AccessLog:access_log_append_only",
    about_others=_CASE,
)


def _messages(s: Subjects) -> QuerySet[Message]:
    about = (
        Q(payload__episode_id__in=s.episode_ids)
        | Q(payload__escalation_id__in=s.escalation_ids)
        | Q(payload__case_reference__in=s.case_references)
        | Q(template="emails/notification_receipt", payload__reference__in=s.notification_references)
    )
    return Message.objects.filter(about) if s.child_ids else Message.objects.none()


MESSAGES = ModelPlace(
    name="messages",
    title="Messages the service sent about the cases",
    model=Message,
    rows=_messages,
    columns=[
        ("created_at", "Written"),
        ("channel", "Channel"),
        ("template", "Kind"),
        ("recipient_user__username", "To (user)"),
        ("recipient_email", "To (email)"),
        ("status", "Status"),
        ("sent_at", "Sent"),
        ("payload", "Details"),
    ],
    # The outbox keeps its rows (counts of what was sent); the external recipient (an allocated
    # social worker's address) and any delivery error quoting it go.
    anonymised={
        "recipient_email": Case(
            When(template="emails/escalation_external", then=Value(ANONYMISED_EMAIL)),
            default=F("recipient_email"),
            output_field=models.EmailField(),
        ),
        "last_error": REMOVED,
    },
    payloads=("payload",),
    free_text=("payload",),
    about_others=_CASE,
)


def _audit_cases(s: Subjects) -> Q:
    return Q(audit_case__episode_id__in=s.episode_ids)


QUALITY_AUDIT = ModelPlace(
    name="quality_audit",
    title="Quality audits of the cases",
    model=AuditCase,
    rows=lambda s: AuditCase.objects.filter(_episodes(s)),
    columns=[("episode_id", "Case number"), ("audited_at", "Audited"), ("score", "Score"), ("summary", "Summary")],
    anonymised={"summary": REMOVED},
    free_text=("summary",),
    about_others=_CASE,
)
QUALITY_AUDIT_FINDINGS = ModelPlace(
    name="quality_audit_findings",
    title="Quality audit findings",
    model=AuditFinding,
    rows=lambda s: AuditFinding.objects.filter(_audit_cases(s)),
    columns=[("audit_case__episode_id", "Case number"), ("item", "Item"), ("result", "Result"), ("note", "Note")],
    anonymised={"note": REMOVED},
    free_text=("note",),
    about_others=_CASE,
)
QUALITY_AUDIT_ACTIONS = ModelPlace(
    name="quality_audit_actions",
    title="Actions from quality audits",
    model=AuditAction,
    rows=lambda s: AuditAction.objects.filter(_audit_cases(s)),
    columns=[
        ("audit_case__episode_id", "Case number"),
        ("description", "Action"),
        ("due_on", "Due"),
        ("completed_at", "Completed"),
    ],
    anonymised={"description": REMOVED},
    free_text=("description",),
    about_others=_CASE,
)
LEGAL_HOLDS = ModelPlace(
    name="legal_holds",
    title="Legal holds on the child's records",
    model=LegalHold,
    rows=lambda s: LegalHold.objects.filter(_children(s)),
    columns=[
        ("child_id", "Child record number"),
        ("placed_at", "Placed"),
        ("reason", "Why"),
        ("until", "Until"),
        ("lifted_at", "Lifted"),
        ("lift_reason", "Why it was lifted"),
    ],
    anonymised={"reason": REMOVED, "lift_reason": REMOVED},
    free_text=("reason", "lift_reason"),
    about_others=_CASE,
)


_PLACES: list[Place] = [
    CHILD_RECORD,
    CHILD_HISTORY,
    ADDRESSES,
    ADDRESS_HISTORY,
    ADDRESS_CHECKS,
    PEOPLE,
    PEOPLE_HISTORY,
    FAMILY_LINKS,
    CASES,
    CASE_HISTORY,
    TRANSITIONS,
    ACTIVITIES,
    REVIEWS,
    ESCALATIONS,
    ESCALATION_EVENTS,
    CONCERNS,
    NOTIFICATIONS,
    SCHOOL_REQUESTS,
    POSSIBLE_MATCHES,
    MERGES,
    ACCESS_LOG,
    MESSAGES,
    QUALITY_AUDIT,
    QUALITY_AUDIT_FINDINGS,
    QUALITY_AUDIT_ACTIONS,
    LEGAL_HOLDS,
]


def place_register(place: Place) -> None:
    """Add a place (an app above ``workflows``, from its ``AppConfig.ready``). Registering the same
    name twice replaces the first, so that a reloaded app does not appear twice."""
    _PLACES[:] = [p for p in _PLACES if p.name != place.name]
    _PLACES.append(place)


def places() -> list[Place]:
    """Every place personal data lives, in export order."""
    return list(_PLACES)


def protected_triggers(found: Iterable[Place] | None = None) -> list[str]:
    """The triggers that keep rows of these places append-only (retention lifts them, nothing else)."""
    return sorted({p.protected_by for p in (found or places()) if p.protected_by})


__all__ = [
    "ModelPlace",
    "Place",
    "Reviewer",
    "Subjects",
    "Table",
    "dob_generalised",
    "payload_scrubbed",
    "place_register",
    "places",
    "protected_triggers",
    "shown",
]
