"""The auditor's reads: the access log filtered by user, child and dates, and the field history of a
child, a parent or carer, an address or a case, in plain words.

History comes from django-pghistory's event tables (``@pghistory.track()`` on Child, Person,
Address and Episode); the user who made a change is the one pghistory's middleware put in the
context of the request (``pgh_context["user"]``); a change with no user was made by the service
itself (a sweep, an import). Readers are the auditor, the EHE manager and the head of service, of
their own LA only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import models
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from pghistory.models import Events

from ehe_register.models import AccessLog, Address, Child, Person, User
from ehe_register.roles import Role
from ehe_register.selectors import children_for
from workflows.models import Episode
from workflows.selectors import episodes_for

AUDIT_TRAIL_READERS = frozenset({Role.AUDITOR, Role.EHE_MANAGER, Role.HEAD_OF_SERVICE})
HISTORY_LIMIT = 500

# Columns whose changes say nothing to a reader (bookkeeping the service does on every save).
_SILENT = frozenset({"updated_at", "created_at", "version", "last_changed_at", "last_changed_by_id"})
# Words people use, where the column's own name would read oddly.
_LABELS = {
    "legal_first_name": "First name",
    "legal_last_name": "Surname",
    "legal_middle_names": "Middle names",
    "first_name": "First name",
    "last_name": "Surname",
    "upn": "UPN",
    "nhs_number": "NHS number",
    "uprn": "UPRN",
    "line_1": "Address line 1",
    "line_2": "Address line 2",
}


def _reader_la(user: Any) -> int | None:
    if user.is_authenticated and user.is_active and user.local_authority_id and user.roles & AUDIT_TRAIL_READERS:
        return int(user.local_authority_id)
    return None


def access_log_for(
    user: Any,
    *,
    user_id: int | None = None,
    child_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AccessLog]:
    """The LA's access log, newest first, filtered by who, whose record and between which days."""
    la_id = _reader_la(user)
    if la_id is None:
        return AccessLog.objects.none()
    rows = AccessLog.objects.filter(local_authority_id=la_id)
    if user_id:
        rows = rows.filter(user_id=user_id)
    if child_id:
        rows = rows.filter(child_id=child_id)
    if date_from:
        rows = rows.filter(at__date__gte=date_from)
    if date_to:
        rows = rows.filter(at__date__lte=date_to)
    return rows.select_related("user", "child").order_by("-at", "-id")


def staff_of(user: Any) -> QuerySet[User]:
    """Everyone in the reader's LA whose access might be logged, by name."""
    la_id = _reader_la(user)
    if la_id is None:
        return User.objects.none()
    return User.objects.filter(local_authority_id=la_id).order_by("first_name", "last_name", "username")


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    by: str
    record: str
    text: str


@dataclass(frozen=True)
class HistorySubject:
    kind: str
    title: str
    obj: models.Model
    child_ids: list[int]
    children: list[Child]


KINDS = {"child": "Child", "person": "Parent or carer", "address": "Address", "case": "Case"}


def history_subject(user: Any, kind: str, pk: int) -> HistorySubject:
    """The record whose history the reader asked for, from their own LA only (404 otherwise)."""
    la_id = _reader_la(user)
    if la_id is None or kind not in KINDS:
        raise Http404
    if kind == "child":
        child = children_for(user).filter(pk=pk).first()
        if child is None:
            raise Http404
        return HistorySubject(kind, f"{child.full_name} (child record {child.pk})", child, [child.pk], [child])
    if kind == "person":
        person = Person.objects.filter(local_authority_id=la_id, pk=pk).first()
        if person is None:
            raise Http404
        children = list(Child.objects.filter(local_authority_id=la_id, carer_links__person=person))
        return HistorySubject(kind, f"{person} (parent or carer)", person, [c.pk for c in children], children)
    if kind == "address":
        address = Address.objects.filter(local_authority_id=la_id, pk=pk).select_related("child").first()
        if address is None:
            raise Http404
        return HistorySubject(
            kind, f"Address of {address.child.full_name}", address, [address.child_id], [address.child]
        )
    episode = episodes_for(user).filter(pk=pk).first()
    if episode is None:
        raise Http404
    return HistorySubject(kind, f"Case {episode.reference}", episode, [episode.child_id], [episode.child])


def related_records(subject: HistorySubject) -> list[dict[str, Any]]:
    """Links from a child's history to the histories of its carers, addresses and cases."""
    if subject.kind != "child":
        return []
    child = subject.obj
    assert isinstance(child, Child)
    links: list[dict[str, Any]] = []
    for link in child.carer_links.select_related("person").order_by("pk"):
        links.append(
            {"kind": "person", "pk": link.person_id, "label": f"{link.person} ({link.get_relationship_display()})"}
        )
    for address in Address.objects.filter(child=child).order_by("pk"):
        links.append({"kind": "address", "pk": address.pk, "label": f"{address.get_kind_display()} address"})
    for episode in Episode.objects.filter(child=child).select_related("local_authority").order_by("pk"):
        links.append({"kind": "case", "pk": episode.pk, "label": f"Case {episode.reference}"})
    return links


def field_history(subject: HistorySubject) -> list[HistoryLine]:
    """Every change to the record, newest first, one line per field: "Surname changed from Smith
    to Jones by Priya Shah on 3 March 2026"."""
    model = type(subject.obj)
    events = list(Events.objects.tracks(subject.obj).order_by("-pgh_created_at", "-pgh_id")[:HISTORY_LIMIT])
    user_ids = {
        e.pgh_context.get("user") for e in events if isinstance(e.pgh_context, dict) and e.pgh_context.get("user")
    }
    names = {u.pk: u.display_name for u in User.objects.filter(pk__in=user_ids)}
    record = KINDS[subject.kind]
    lines: list[HistoryLine] = []
    for event in events:
        context = event.pgh_context if isinstance(event.pgh_context, dict) else {}
        by = names.get(context.get("user") or 0, "the service")
        at = event.pgh_created_at
        when = _day(at)
        if event.pgh_label == "insert":
            lines.append(HistoryLine(at, by, record, f"{record} record created by {by} on {when}"))
            continue
        diff = event.pgh_diff or {}
        for name, values in sorted(diff.items()):
            if name in _SILENT or not isinstance(values, list | tuple) or len(values) != 2:
                continue
            label = _label(model, name)
            before, after = (_value(model, name, v, names) for v in values)
            lines.append(HistoryLine(at, by, record, f"{label} changed from {before} to {after} by {by} on {when}"))
    return lines


def _day(at: datetime) -> str:
    local = timezone.localtime(at)
    return f"{local.day} {local:%B %Y}"


def _field(model: type[models.Model], name: str) -> models.Field | None:
    for field in model._meta.concrete_fields:
        if name in (field.name, field.attname):
            return field  # type: ignore[return-value]
    return None


def _label(model: type[models.Model], name: str) -> str:
    if name in _LABELS:
        return _LABELS[name]
    field = _field(model, name)
    text = str(field.verbose_name) if field is not None else name.replace("_", " ")
    text = text.removesuffix(" id")
    return text[:1].upper() + text[1:]


def _value(model: type[models.Model], name: str, value: Any, names: dict[int, str]) -> str:
    if value is None or value == "" or value == []:
        return "blank"
    field = _field(model, name)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if field is not None and field.is_relation and field.related_model is User:
        user = names.get(value) or User.objects.filter(pk=value).values_list("first_name", "last_name").first()
        return " ".join(user) if isinstance(user, tuple) else str(user or value)
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        local = timezone.localtime(parsed) if timezone.is_aware(parsed) else parsed
        return f"{local.day} {local:%B %Y} at {local:%H:%M}"
    if isinstance(field, models.DateField) and isinstance(value, str):
        try:
            parsed_day = date.fromisoformat(value)
        except ValueError:
            return value
        return f"{parsed_day.day} {parsed_day:%B %Y}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
