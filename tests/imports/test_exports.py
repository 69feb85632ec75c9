"""Exports: formula neutralisation for each leading character, masking of confidential addresses
and its logging, one AccessLog row per child exported; the auditor's filters and logged reads."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import openpyxl
import pghistory
import pytest
import tablib
from django.utils import timezone

from ehe_register.models import AccessAction, AccessLog, LocalAuthority
from ehe_register.roles import Role
from imports.exports import export_file, neutralise_cell, register_export
from tests.factories import AddressFactory, ChildFactory, make_episode, make_user
from workflows.states import State


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_trigger_is_neutralised(lead: str) -> None:
    assert neutralise_cell(f"{lead}HYPERLINK(1)") == f"'{lead}HYPERLINK(1)"


@pytest.mark.parametrize("value", ["Smith", "O'Brien", " =not leading", "Zoë", "渡辺", 42, None])
def test_other_cells_are_left_alone(value: Any) -> None:
    assert neutralise_cell(value) == value


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_files_carry_neutralised_cells(file_format: str) -> None:
    data = tablib.Dataset(headers=["=Name"])
    data.append(["=cmd|' /C calc'!A0"])
    content = export_file(data, file_format)
    if file_format == "csv":
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(content)).active
        rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows == [["'=Name"], ["'=cmd|' /C calc'!A0"]]


@pytest.fixture
def register(la: LocalAuthority) -> dict[str, Any]:
    hidden = ChildFactory(local_authority=la, legal_last_name="=Hidden", confidential_address=True)
    AddressFactory(child=hidden, line_1="1 Refuge Road", postcode="GU1 1AA")
    shown = ChildFactory(local_authority=la, legal_last_name="Shown")
    AddressFactory(child=shown, line_1="2 Open Street", postcode="GU2 2BB")
    make_episode(State.MONITORING, child=hidden)
    make_episode(State.MONITORING, child=shown)
    make_episode(State.CLOSED, la=la)  # not on the register
    return {"hidden": hidden, "shown": shown}


def _rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.mark.django_db
def test_confidential_addresses_are_masked_and_every_child_exported_is_logged(
    la: LocalAuthority, register: dict[str, Any]
) -> None:
    auditor = make_user(Role.AUDITOR, la)
    result = register_export(user=auditor, file_format="csv", include_confidential=False, path="/exports/register/")
    rows = {r["Child record"]: r for r in _rows(result.content)}
    assert set(rows) == {str(register["hidden"].pk), str(register["shown"].pk)}
    hidden = rows[str(register["hidden"].pk)]
    assert hidden["Address"] == hidden["Postcode"] == "Confidential address"
    assert hidden["Legal surname"] == "'=Hidden"
    assert rows[str(register["shown"].pk)]["Postcode"] == "GU2 2BB"
    logged = AccessLog.objects.filter(user=auditor)
    assert sorted(logged.values_list("child_id", flat=True)) == sorted([register["hidden"].pk, register["shown"].pk])
    assert set(logged.values_list("action", flat=True)) == {AccessAction.EXPORT}


@pytest.mark.django_db
def test_a_manager_may_unmask_and_that_is_logged(la: LocalAuthority, register: dict[str, Any]) -> None:
    manager = make_user(Role.EHE_MANAGER, la)
    result = register_export(user=manager, file_format="xlsx", include_confidential=True, path="/exports/register/")
    sheet = openpyxl.load_workbook(io.BytesIO(result.content)).active
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert "GU1 1AA" in values
    assert "Confidential address" not in values
    assert set(AccessLog.objects.filter(user=manager).values_list("action", flat=True)) == {
        AccessAction.EXPORT_UNMASKED
    }


@pytest.mark.django_db
def test_only_a_manager_may_unmask(la: LocalAuthority, register: dict[str, Any], client: Any) -> None:
    head = make_user(Role.HEAD_OF_SERVICE, la)
    with pytest.raises(PermissionError):
        register_export(user=head, file_format="csv", include_confidential=True, path="/x")
    # Through the page, the box is not offered, so a head of service's file stays masked.
    client.force_login(head)
    response = client.post("/exports/register/", {"register-file_format": "csv", "register-include_confidential": "on"})
    assert response.status_code == 200
    assert b"1 Refuge Road" not in response.content
    assert set(AccessLog.objects.filter(user=head).values_list("action", flat=True)) == {AccessAction.EXPORT}


@pytest.mark.django_db
def test_access_log_filters_and_reading_it_is_logged(la: LocalAuthority, other_la: LocalAuthority, client: Any) -> None:
    officer = make_user(Role.EHE_OFFICER, la, first_name="Priya")
    other = make_user(Role.EHE_OFFICER, la, first_name="Sam")
    mine, theirs = make_episode(State.MONITORING, la=la), make_episode(State.MONITORING, la=la)
    foreign = make_episode(State.MONITORING, la=other_la)
    AccessLog.objects.create(
        user=officer,
        local_authority=la,
        child=mine.child,
        action="view",
        path="/a",
        at=timezone.now() - timedelta(days=10),
    )
    AccessLog.objects.create(
        user=officer, local_authority=la, child=theirs.child, action="view", path="/b", at=timezone.now()
    )
    AccessLog.objects.create(
        user=other, local_authority=la, child=mine.child, action="view", path="/c", at=timezone.now()
    )
    AccessLog.objects.create(
        user=make_user(Role.EHE_OFFICER, other_la),
        local_authority=other_la,
        child=foreign.child,
        action="view",
        path="/d",
        at=timezone.now(),
    )
    auditor = make_user(Role.AUDITOR, la)
    client.force_login(auditor)

    def paths(query: dict[str, Any]) -> set[str]:
        response = client.get("/auditor/access-log/", query)
        assert response.status_code == 200
        return {
            p
            for p in ("/a", "/b", "/c", "/d")
            if f'<td class="govuk-table__cell">{p}</td>' in response.content.decode()
        }

    assert paths({}) == {"/a", "/b", "/c"}
    assert paths({"person": officer.pk}) == {"/a", "/b"}
    assert paths({"child": mine.child_id}) == {"/a", "/c"}
    today = timezone.localdate()
    assert paths({"date_from_day": today.day, "date_from_month": today.month, "date_from_year": today.year}) == {
        "/b",
        "/c",
    }
    # Each read wrote a row; the one for a child names the child.
    reads = AccessLog.objects.filter(user=auditor)
    assert reads.count() == 4
    assert reads.filter(child=mine.child).count() == 1
    # And the export names every child in the file.
    response = client.get("/auditor/access-log/", {"person": officer.pk, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    exported = AccessLog.objects.filter(user=auditor, action=AccessAction.EXPORT)
    assert sorted(exported.values_list("child_id", flat=True)) == sorted([mine.child_id, theirs.child_id])


@pytest.mark.django_db
def test_field_history_in_plain_words(la: LocalAuthority, client: Any) -> None:
    officer = make_user(Role.EHE_OFFICER, la, first_name="Priya", last_name="Shah")
    episode = make_episode(State.MONITORING, la=la)
    child = episode.child
    old = child.legal_last_name
    with pghistory.context(user=officer.pk):
        child.legal_last_name = "Nguyễn"
        child.save()
    auditor = make_user(Role.AUDITOR, la)
    client.force_login(auditor)
    page = client.get(f"/auditor/history/child/{child.pk}/").content.decode()
    today = timezone.localdate()
    assert f"Surname changed from {old} to Nguyễn by Priya Shah on {today.day} {today:%B %Y}" in page
    assert AccessLog.objects.filter(user=auditor, child=child, action=AccessAction.VIEW).count() == 1
    csv_response = client.get(f"/auditor/history/child/{child.pk}/?format=csv")
    assert "Nguyễn" in csv_response.content.decode("utf-8-sig")
    assert AccessLog.objects.filter(user=auditor, child=child, action=AccessAction.EXPORT).count() == 1
