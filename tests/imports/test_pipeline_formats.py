"""The CTF, GIAS and legacy register formats through the import pipeline: the preview writes
nothing, confirming writes through the one intake path, the same file again changes nothing, and
a row that would give a child a second open case is unchanged or an error, never a crash or a
half-write. Files are built as the parser tests build them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command

from ehe_register.models import Child, LocalAuthority, PossibleMatch, School, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON
from imports.formats import BadFile, Outcome, format_for
from imports.formats.legacy import column_mapping_save
from imports.models import BatchStatus, ImportBatch
from imports.services import AlreadyImported, batch_confirm, batch_preview
from tests.factories import ChildFactory, SchoolFactory, make_episode, make_user
from tests.imports.ctf_files import PUPILS, Pupil, ctf
from tests.imports.gias_files import ROWS as GIAS_ROWS
from tests.imports.gias_files import extract, row
from tests.imports.legacy_files import COLUMNS, REGISTER, register_file, register_row
from workflows.models import Episode, TransitionLog
from workflows.states import Source, State

AS_OF = datetime(2026, 12, 1, 10, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def on_a_tuesday(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.EHE_IMPORT_DIR = str(tmp_path / "imports")
    with time_machine.travel(AS_OF, tick=True):
        yield


@pytest.fixture
def school(la: LocalAuthority) -> School:
    return SchoolFactory(local_authority=la, establishment_number="4001", name="Ashcombe School", urn="125300")


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la)


@pytest.fixture
def manager(la: LocalAuthority) -> User:
    return make_user(Role.EHE_MANAGER, la)


def preview(user: User, kind: str, content: bytes, name: str) -> ImportBatch:
    return batch_preview(user=user, kind=kind, file_name=name, chunks=iter([content]))


def counts(batch: ImportBatch) -> tuple[int, int, int, int, int]:
    return (batch.new_count, batch.updated_count, batch.unchanged_count, batch.likely_match_count, batch.error_count)


def register_size() -> tuple[int, int, int]:
    return Child.objects.count(), Episode.objects.count(), TransitionLog.objects.count()


# --- CTF ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_ctf_previews_then_opens_school_cases_through_intake(officer: User, school: School) -> None:
    batch = preview(officer, "ctf", ctf(PUPILS), "leavers.xml")

    assert register_size() == (0, 0, 0)
    assert (batch.status, batch.rows_total, counts(batch)) == (BatchStatus.PREVIEWED, 3, (3, 0, 0, 0, 0))
    batch = batch_confirm(batch_id=batch.pk, user=officer)

    assert (batch.status, counts(batch)) == (BatchStatus.DONE, (3, 0, 0, 0, 0))
    episodes = list(Episode.objects.order_by("pk"))
    assert [(e.source, e.opened_by_school, e.state) for e in episodes] == [
        (Source.SCHOOL, school, State.ADDRESS_VERIFICATION)
    ] * 3
    assert episodes[0].source_detail == "Common Transfer File from Ashcombe School, leavers.xml, pupil 1"
    assert set(TransitionLog.objects.values_list("transition", flat=True)) == {"risk_check"}


@pytest.mark.django_db
def test_a_ctf_again_changes_nothing(officer: User, school: School) -> None:
    content = ctf(PUPILS)
    batch_confirm(batch_id=preview(officer, "ctf", content, "leavers.xml").pk, user=officer)
    before = register_size()

    with pytest.raises(AlreadyImported):
        preview(officer, "ctf", content, "leavers.xml")
    # The same pupils in another file: each child already has an open case.
    again = preview(officer, "ctf", content + b"\n", "leavers-again.xml")
    assert counts(again) == (0, 0, 3, 0, 0)
    again = batch_confirm(batch_id=again.pk, user=officer)
    assert counts(again) == (0, 0, 3, 0, 0)
    assert register_size() == before


@pytest.mark.django_db
def test_a_ctf_pupil_twice_is_an_error_and_known_children_are_matched(
    la: LocalAuthority, officer: User, school: School
) -> None:
    closed = make_episode(State.CLOSED, la=la)
    known = closed.child
    likely = ChildFactory(
        local_authority=la, legal_first_name="Nowak", legal_last_name="Zoë", date_of_birth=date(2015, 6, 30)
    )
    pupils = [
        Pupil(),
        Pupil(),  # the first pupil again
        Pupil(
            forename=known.legal_first_name, surname=known.legal_last_name, dob=known.date_of_birth.isoformat(), upn=""
        ),
        PUPILS[2],
    ]

    batch = batch_confirm(batch_id=preview(officer, "ctf", ctf(pupils), "leavers.xml").pk, user=officer)

    assert counts(batch) == (1, 1, 0, 1, 1)
    (error,) = batch.row_errors.all()
    assert (error.row_number, error.column) == (2, "Surname")
    assert error.message.startswith("The same child as pupil 1 (same names and date of birth)")
    assert Episode.objects.filter(child=known).exclude(state=State.CLOSED).count() == 1
    assert PossibleMatch.objects.get().candidate == likely


@pytest.mark.django_db
def test_a_ctf_from_another_las_school_is_refused(officer: User, school: School) -> None:
    with pytest.raises(BadFile, match="local authority 938"):
        preview(officer, "ctf", ctf(PUPILS, source_la="938"), "leavers.xml")
    assert not ImportBatch.objects.exists()


# --- Legacy register ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_legacy_register_previews_then_enters_through_the_imported_transition(
    la: LocalAuthority, officer: User
) -> None:
    column_mapping_save(local_authority=la, columns=COLUMNS, actor=officer, as_of=AS_OF)
    batch = preview(officer, "legacy", register_file(REGISTER), "register.csv")

    assert register_size() == (0, 0, 0)
    assert counts(batch) == (3, 0, 0, 0, 0)
    batch = batch_confirm(batch_id=batch.pk, user=officer)

    assert (batch.status, counts(batch)) == (BatchStatus.DONE, (3, 0, 0, 0, 0))
    episodes = list(Episode.objects.order_by("pk"))
    assert [(e.source, e.state) for e in episodes] == [
        (Source.IMPORT, State.MONITORING),
        (Source.IMPORT, State.MONITORING),
        (Source.IMPORT, State.EDUCATION_ENQUIRY),
    ]
    assert episodes[0].source_detail == "Existing register, register.csv, row 2, reference EHE/2019/041"
    logs = TransitionLog.objects.order_by("episode_id")
    assert {(log.transition, log.from_state, log.reason) for log in logs} == {
        ("imported", State.NOTIFIED, "Imported from the existing register, register.csv")
    }


@pytest.mark.django_db
def test_a_legacy_register_again_changes_nothing(la: LocalAuthority, officer: User) -> None:
    column_mapping_save(local_authority=la, columns=COLUMNS, actor=officer, as_of=AS_OF)
    content = register_file(REGISTER)
    batch_confirm(batch_id=preview(officer, "legacy", content, "register.csv").pk, user=officer)
    before = register_size()

    with pytest.raises(AlreadyImported):
        preview(officer, "legacy", content, "register.csv")
    again = batch_confirm(batch_id=preview(officer, "legacy", content + b"\r\n", "copy.csv").pk, user=officer)
    assert counts(again) == (0, 0, 3, 0, 0)
    assert register_size() == before


@pytest.mark.django_db
def test_a_legacy_row_for_a_child_with_an_open_case_or_twice_in_the_file_never_collides(
    la: LocalAuthority, officer: User
) -> None:
    column_mapping_save(local_authority=la, columns=COLUMNS, actor=officer, as_of=AS_OF)
    open_case = make_episode(State.MONITORING, la=la)
    child = open_case.child
    rows = [
        *REGISTER,
        register_row(
            Ref="EHE/2022/001",
            Forename=child.legal_first_name,
            Surname=child.legal_last_name,
            DOB=child.date_of_birth.strftime("%d/%m/%Y"),
        ),
        register_row(Ref="EHE/2019/041-dup"),  # the first row's child again
    ]

    batch = batch_confirm(batch_id=preview(officer, "legacy", register_file(rows), "register.csv").pk, user=officer)

    assert (batch.status, counts(batch)) == (BatchStatus.DONE, (3, 0, 1, 0, 1))
    (error,) = batch.row_errors.all()
    assert (error.row_number, error.column) == (6, "Surname")
    assert "The same child as row 2" in error.message
    assert Episode.objects.filter(child=child).count() == 1


@pytest.mark.django_db
def test_a_case_opened_between_the_check_and_the_write_is_unchanged_and_the_rest_written(
    la: LocalAuthority, officer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunk's classification is stale (another intake opened a case since): the one-open-case
    constraint refuses that row alone; the chunk's other rows are written whole."""
    column_mapping_save(local_authority=la, columns=COLUMNS, actor=officer, as_of=AS_OF)
    batch = preview(officer, "legacy", register_file(REGISTER), "register.csv")
    first = REGISTER[0]
    child = ChildFactory(
        local_authority=la,
        legal_first_name=first["Forename"],
        legal_last_name=first["Surname"],
        date_of_birth=date(2014, 3, 27),
    )
    make_episode(State.ADDRESS_VERIFICATION, child=child)
    fmt: Any = format_for("legacy")
    monkeypatch.setattr(type(fmt), "classify", lambda self, records, context: [Outcome.NEW] * len(records))

    batch = batch_confirm(batch_id=batch.pk, user=officer)

    assert (batch.status, counts(batch)) == (BatchStatus.DONE, (2, 0, 1, 0, 0))
    assert Episode.objects.filter(child=child).count() == 1
    written = Episode.objects.exclude(child=child)
    assert sorted(written.values_list("state", flat=True)) == [State.EDUCATION_ENQUIRY, State.MONITORING]
    assert TransitionLog.objects.filter(episode__in=written, transition="imported").count() == 2


@pytest.mark.django_db
def test_a_legacy_register_without_a_fitting_mapping_is_refused(la: LocalAuthority, officer: User) -> None:
    with pytest.raises(BadFile, match="saved choice of columns does not fit"):
        preview(officer, "legacy", register_file(REGISTER), "register.csv")
    assert not ImportBatch.objects.exists()


# --- GIAS -----------------------------------------------------------------------------------------


def gias_bytes(rows: list[list[str]]) -> bytes:
    return extract(rows).getvalue()


@pytest.mark.django_db
def test_the_schools_list_previews_then_loads_and_again_changes_nothing(la: LocalAuthority, manager: User) -> None:
    batch = preview(manager, "gias", gias_bytes(GIAS_ROWS), "edubasealldata20261201.csv")
    assert not School.objects.exists()
    assert counts(batch)[0] == 4

    batch = batch_confirm(batch_id=batch.pk, user=manager)

    assert batch.status == BatchStatus.DONE
    assert School.objects.count() == 4
    assert School.objects.get(urn="125301").is_special
    assert School.objects.get(urn="125303").closed_on == date(2019, 8, 31)
    with pytest.raises(AlreadyImported):
        preview(manager, "gias", gias_bytes(GIAS_ROWS), "edubasealldata20261201.csv")
    changed = [row("125300", "École Sainte-Thérèse Primary", number="2001", phase="Primary"), *GIAS_ROWS[1:]]
    again = batch_confirm(batch_id=preview(manager, "gias", gias_bytes(changed), "edubase2.csv").pk, user=manager)
    assert counts(again) == (0, 1, 4, 0, 0)


@pytest.mark.django_db
def test_an_ehe_officer_may_not_load_the_schools_list(officer: User) -> None:
    with pytest.raises(BadFile, match="You cannot import files of the GIAS schools list"):
        preview(officer, "gias", gias_bytes(GIAS_ROWS), "edubase.csv")
    assert not School.objects.exists()


# --- The command ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_imports_each_kind(
    la: LocalAuthority, officer: User, manager: User, tmp_path: Path, capsys: Any
) -> None:
    gias = tmp_path / "edubasealldata20261201.csv"
    gias.write_bytes(gias_bytes(GIAS_ROWS))
    with pytest.raises(CommandError, match="not an EHE manager"):
        call_command("import_file", "gias", str(gias), "--as", officer.username)
    call_command("import_file", "gias", str(gias), "--dry-run", "--as", manager.username)
    assert not School.objects.exists()
    call_command("import_file", "gias", str(gias), "--as", manager.username)
    assert School.objects.count() == 4

    leavers = tmp_path / "leavers.xml"
    leavers.write_bytes(ctf(PUPILS, estab="2001"))  # École Sainte-Thérèse Primary, just loaded
    call_command("import_file", "ctf", str(leavers), "--as", officer.username)
    assert Episode.objects.filter(source=Source.SCHOOL).count() == 3

    column_mapping_save(local_authority=la, columns=COLUMNS, actor=officer, as_of=AS_OF)
    register = tmp_path / "register.csv"
    register.write_bytes(register_file(REGISTER[2:]))
    call_command("import_file", "legacy", str(register), "--as", officer.username)
    assert Episode.objects.filter(source=Source.IMPORT).count() == 1
    out = capsys.readouterr().out
    assert "Imported 3 rows of leavers.xml" in out
    assert "Imported 1 rows of register.csv" in out


@pytest.mark.django_db
def test_an_administrator_loads_the_schools_list_from_the_command(
    la: LocalAuthority, tmp_path: Path, capsys: Any
) -> None:
    admin = make_user(Role.ADMINISTRATOR)
    gias = tmp_path / "edubasealldata20261201.csv"
    gias.write_bytes(gias_bytes(GIAS_ROWS))
    call_command("import_file", "gias", str(gias), "--dry-run", "--as", admin.username)
    assert not School.objects.exists()
    call_command("import_file", "gias", str(gias), "--as", admin.username)
    assert School.objects.count() == 4
    assert "Loaded 5 rows of edubasealldata20261201.csv: 4 new schools" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not an EHE officer or manager"):
        call_command("import_file", "ctf", str(gias), "--as", admin.username)


@pytest.mark.django_db
def test_a_ctf_pupil_whose_case_opened_between_the_check_and_the_write_is_unchanged(
    la: LocalAuthority, officer: User, school: School, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = preview(officer, "ctf", ctf(PUPILS), "leavers.xml")
    child = ChildFactory(
        local_authority=la, legal_first_name="Amara", legal_last_name="Okafor", date_of_birth=date(2014, 3, 27)
    )
    make_episode(State.MONITORING, child=child)
    fmt: Any = format_for("ctf")
    monkeypatch.setattr(type(fmt), "classify", lambda self, records, context: [Outcome.NEW] * len(records))

    batch = batch_confirm(batch_id=batch.pk, user=officer)

    assert (batch.status, counts(batch)) == (BatchStatus.DONE, (2, 0, 1, 0, 0))
    assert Episode.objects.filter(child=child).count() == 1
    assert Episode.objects.filter(source=Source.SCHOOL).count() == 2


@pytest.mark.django_db
def test_hostile_strings_as_register_values_never_half_write(la: LocalAuthority, officer: User, settings: Any) -> None:
    from datetime import timedelta

    from imports.formats.tabular import is_formula
    from tests.imports.legacy_files import BLNS

    column_mapping_save(local_authority=la, columns=COLUMNS, actor=officer, as_of=AS_OF)
    rows = [
        register_row(
            Ref=f"R{n}", Forename=value, Address=value, DOB=(date(2012, 1, 1) + timedelta(days=n)).strftime("%d/%m/%Y")
        )
        for n, value in enumerate(BLNS)
        if not is_formula(value.strip()) and "\n" not in value and "\r" not in value
    ]
    batch = preview(officer, "legacy", register_file(rows), "hostile.csv")
    settings.EHE_IMPORT_INLINE_ROWS = batch.rows_total  # here, not by a worker
    batch = batch_confirm(batch_id=batch.pk, user=officer)

    assert batch.status == BatchStatus.DONE
    assert batch.new_count + batch.error_count + batch.likely_match_count == len(rows)
    assert batch.new_count > 300
    assert Episode.objects.count() == Child.objects.count() == batch.new_count + batch.likely_match_count
    assert TransitionLog.objects.filter(transition="imported").count() == Episode.objects.count()
