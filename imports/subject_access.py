"""Subject access: every record the register holds about one child or one parent or carer, as a
zip of CSV files (one per place the data lives, ``workflows.personal_data``) and a readable
summary (``summary.html``), for the LA to review and release.

Nothing is left out and nothing is redacted by the service: rows that may carry someone else's
details (another child or person named in free text, a parent's details in a child's request, a
record about another child) are flagged in a "Check before release" column, for the person
answering the request to redact. The export is logged like every file leaving the service: one
AccessLog row per child it covers, with its own action (``AccessAction.SUBJECT_ACCESS``).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from ehe_register.models import AccessAction, Child, ChildPerson, Person, User
from ehe_register.services.access import access_log_record_export
from imports.exports import neutralise_cell
from workflows.personal_data import Subjects, Table, places

REVIEW_HEADER = "Check before release"
NAMES_SOMEONE_ELSE = "Names another child or person on the register: check and redact"


@dataclass(frozen=True)
class SubjectAccessExport:
    filename: str
    content: bytes
    tables: list[Table]
    flagged: int


class NameReviewer:
    """Flags text that names someone other than the request's subjects: any other child or person
    of the LA by full name, and the subjects' siblings (children who share a parent or carer) by
    first name too, the way staff write about a family."""

    def __init__(self, subjects: Subjects) -> None:
        self.focus = subjects.focus
        la = subjects.local_authority_id
        full: set[str] = set()
        children = Child.objects.filter(local_authority_id=la).exclude(pk__in=subjects.child_ids)
        for first, preferred, last, preferred_last in children.values_list(
            "legal_first_name", "preferred_first_name", "legal_last_name", "preferred_last_name"
        ):
            for given in {first, preferred} - {""}:
                for family in {last, preferred_last} - {""}:
                    full.add(f"{given} {family}")
        people = Person.objects.filter(local_authority_id=la).exclude(pk__in=subjects.person_ids)
        full.update(f"{first} {last}" for first, last in people.values_list("first_name", "last_name"))
        carers = ChildPerson.objects.filter(Q(child_id__in=subjects.child_ids) | Q(person_id__in=subjects.person_ids))
        siblings = children.filter(carer_links__person_id__in=carers.values("person_id")).distinct()
        first_names = {n for pair in siblings.values_list("legal_first_name", "preferred_first_name") for n in pair}
        words = sorted({n.casefold() for n in full if n.strip()} | {n.casefold() for n in first_names if n})
        self.pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)") if words else None

    def names_in(self, *texts: Any) -> str:
        if self.pattern is None:
            return ""
        joined = " ".join(
            json.dumps(t, ensure_ascii=False) if isinstance(t, dict | list) else str(t or "") for t in texts
        )
        return NAMES_SOMEONE_ELSE if self.pattern.search(joined.casefold()) else ""


def subjects_for_child(child: Child) -> Subjects:
    carers = tuple(ChildPerson.objects.filter(child=child).order_by("person_id").values_list("person_id", flat=True))
    return Subjects(child.local_authority_id, child_ids=(child.pk,), person_ids=carers, focus="child")


def subjects_for_person(person: Person) -> Subjects:
    children = tuple(ChildPerson.objects.filter(person=person).order_by("child_id").values_list("child_id", flat=True))
    return Subjects(person.local_authority_id, child_ids=children, person_ids=(person.pk,), focus="person")


def subject_access_export(*, user: User, subjects: Subjects, title: str, stem: str, path: str) -> SubjectAccessExport:
    """The zip for ``subjects``, logged against every child it covers in the same transaction."""
    reviewer = NameReviewer(subjects)
    tables = [place.export(subjects, reviewer) for place in places()]
    now = timezone.now()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, table in enumerate(tables, 1):
            archive.writestr(f"{number:02d}-{table.name}.csv", _csv(table))
        summary = render_to_string(
            "exports/subject_access_summary.html",
            {
                "title": title,
                "tables": [
                    {"table": t, "rows": list(zip(t.rows, t.review, strict=True)), "number": n}
                    for n, t in enumerate(tables, 1)
                ],
                "exported_at": now,
                "exported_by": user.display_name,
                "flagged": sum(1 for t in tables for r in t.review if r),
            },
        )
        archive.writestr("summary.html", summary)
    with transaction.atomic():
        access_log_record_export(
            user=user,
            local_authority_id=subjects.local_authority_id,
            child_ids=subjects.child_ids,
            action=AccessAction.SUBJECT_ACCESS,
            path=path,
            as_of=now,
        )
    return SubjectAccessExport(
        filename=f"{stem}-{timezone.localdate(now).isoformat()}.zip",
        content=buffer.getvalue(),
        tables=tables,
        flagged=sum(1 for t in tables for r in t.review if r),
    )


def _csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise_cell(h) for h in [*table.headers, REVIEW_HEADER]])
    for row, review in zip(table.rows, table.review, strict=True):
        writer.writerow([neutralise_cell(cell) for cell in [*row, review]])
    # A byte-order mark so that spreadsheets read names in every script as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")
