"""An app above workflows (imports, for its batches and files) adds a place personal data lives,
and both retention and subject access then use it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pytest

from ehe_register.models import LocalAuthority
from ehe_register.roles import Role
from imports.subject_access import subject_access_export, subjects_for_child
from tests.factories import ChildFactory, make_episode, make_user
from tests.workflows.family_records import at
from workflows import personal_data
from workflows.personal_data import Reviewer, Subjects, Table, place_register, places
from workflows.services.retention import retention_apply
from workflows.states import State

pytestmark = pytest.mark.django_db


@dataclass
class ImportFiles:
    """A stand-in for an import batch's stored files: child id -> the line of the file about them."""

    lines: dict[int, str] = field(default_factory=dict)
    name: str = "import_files"
    title: str = "Files imported"
    protected_by: str = ""

    def count(self, subjects: Subjects) -> int:
        return sum(1 for pk in subjects.child_ids if pk in self.lines)

    def anonymise(self, subjects: Subjects, *, as_of: datetime) -> int:
        changed = self.count(subjects)
        for pk in subjects.child_ids:
            if pk in self.lines:
                self.lines[pk] = ""
        return changed

    def export(self, subjects: Subjects, reviewer: Reviewer) -> Table:
        table = Table(self.name, self.title, ["Line"])
        for pk in subjects.child_ids:
            if pk in self.lines:
                table.rows.append([self.lines[pk]])
                table.review.append(reviewer.names_in(self.lines[pk]))
        return table


def test_a_registered_place_is_exported_and_anonymised(
    la: LocalAuthority, monkeypatch: pytest.MonkeyPatch, time_machine: Any
) -> None:
    monkeypatch.setattr(personal_data, "_PLACES", list(personal_data._PLACES))
    time_machine.move_to(at(date(2014, 9, 10)))
    child = ChildFactory(local_authority=la, date_of_birth=date(2000, 1, 9))
    make_episode(State.CLOSED, child=child)
    files = ImportFiles({child.pk: "H801200001001,Quillfeather,Zephyrine"})
    place_register(files)
    place_register(files)  # once only, however often an app is readied
    assert [p.name for p in places()].count("import_files") == 1

    export = subject_access_export(
        user=make_user(Role.EHE_MANAGER, la), subjects=subjects_for_child(child), title="x", stem="s", path="/x/"
    )
    [table] = [t for t in export.tables if t.name == "import_files"]
    assert table.rows == [["H801200001001,Quillfeather,Zephyrine"]]

    result = retention_apply(as_of=at(date(2026, 3, 2)))
    assert result.rows["import_files"] == 1
    assert files.lines == {child.pk: ""}
