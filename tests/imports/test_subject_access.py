"""Subject access: the export holds every record of the person, nothing of anyone else, flags
what needs checking before release, and is logged."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ehe_register.models import AccessAction, AccessLog, LocalAuthority
from ehe_register.roles import Role
from imports.subject_access import (
    NAMES_SOMEONE_ELSE,
    REVIEW_HEADER,
    subject_access_export,
    subjects_for_child,
    subjects_for_person,
)
from tests.factories import ChildFactory, make_episode, make_user
from tests.workflows.family_records import at, family_records
from workflows.models import Activity, ActivityKind, ActivityOutcome
from workflows.personal_data import places
from workflows.states import State

pytestmark = pytest.mark.django_db


def _files(content: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name).decode("utf-8-sig") for name in archive.namelist()}


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def two_families(la: LocalAuthority, time_machine: Any) -> tuple[Any, Any]:
    time_machine.move_to(at(date(2014, 9, 10)))
    mine = family_records(la)
    other = family_records(
        la,
        first="Ysolde",
        last="Farthingale",
        upn="H801200002002",
        parent_first="Peregrine",
        street="3 Rook Lane",
        postcode="KT21 5RR",
        phone="07700 900789",
        nhs_number="4010232137",
        language="Manx",
        dob=date(2000, 6, 9),
        old_postcode="KT20 6AB",
        parent_postcode="KT19 8CD",
    )
    return mine, other


def test_the_export_holds_every_record_of_the_child_and_nothing_of_anyone_else(
    la: LocalAuthority, two_families: tuple[Any, Any]
) -> None:
    mine, other = two_families
    manager = make_user(Role.EHE_MANAGER, la)
    result = subject_access_export(
        user=manager, subjects=subjects_for_child(mine.child), title="Zephyrine", stem="sar", path="/x/"
    )
    files = _files(result.content)
    assert "summary.html" in files
    assert len([n for n in files if n.endswith(".csv")]) == len(places())
    everything = "\n".join(files.values())
    # Every identifying string of the child (and of the parent, a third party flagged below) is there...
    for secret in mine.secrets:
        if secret == mine.date_of_birth.isoformat():
            secret = "17 May 2000"
        assert secret.casefold() in everything.casefold(), secret
    # ... from every place that holds the child's records.
    for name in (
        "child",
        "child_history",
        "addresses",
        "address_history",
        "address_checks",
        "parents_and_carers",
        "cases",
        "case_history",
        "case_decisions",
        "contacts_and_visits",
        "reviews",
        "escalations",
        "escalation_history",
        "safeguarding_concerns",
        "school_notifications",
        "school_requests",
        "access_log",
        "messages",
        "quality_audit",
        "legal_holds",
    ):
        [text] = [body for file, body in files.items() if file.endswith(f"-{name}.csv")]
        assert _rows(text), f"{name} is empty"
    # Nothing of the other family.
    for secret in other.secrets:
        assert secret.casefold() not in everything.casefold(), secret


def test_third_party_details_are_flagged_for_review(la: LocalAuthority, two_families: tuple[Any, Any]) -> None:
    mine, _ = two_families
    manager = make_user(Role.EHE_MANAGER, la)
    sibling = ChildFactory(local_authority=la, legal_first_name="Casimir", legal_last_name="Quillfeather")
    mine.parent.child_links.create(child=sibling, relationship="mother")
    Activity.objects.create(
        episode=mine.episodes[0],
        kind=ActivityKind.PHONE_CALL,
        occurred_at=at(date(2015, 1, 5)),
        summary="Casimir answered the phone",
        outcome=ActivityOutcome.PARENT_REACHED,
        recorded_by=manager,
        recorded_at=at(date(2015, 1, 5)),
    )
    Activity.objects.create(
        episode=mine.episodes[0],
        kind=ActivityKind.PHONE_CALL,
        occurred_at=at(date(2015, 1, 6)),
        summary="Ysolde Farthingale's family called about a different matter",
        outcome=ActivityOutcome.PARENT_REACHED,
        recorded_by=manager,
        recorded_at=at(date(2015, 1, 6)),
    )
    result = subject_access_export(
        user=manager, subjects=subjects_for_child(mine.child), title="Z", stem="sar", path="/x/"
    )
    files = _files(result.content)
    [visits] = [body for name, body in files.items() if name.endswith("-contacts_and_visits.csv")]
    review = {row["Summary"]: row[REVIEW_HEADER] for row in _rows(visits)}
    assert NAMES_SOMEONE_ELSE in review["Casimir answered the phone"]
    assert NAMES_SOMEONE_ELSE in review["Ysolde Farthingale's family called about a different matter"]
    assert NAMES_SOMEONE_ELSE not in review[f"Met Oberon and Zephyrine at {'14 Lavender Row'}"]
    [people] = [body for name, body in files.items() if name.endswith("-parents_and_carers.csv")]
    assert "third party" in _rows(people)[0][REVIEW_HEADER]
    # The sibling's own record is not in the export; only the flag says someone else is named.
    [links] = [body for name, body in files.items() if name.endswith("-family_links.csv")]
    assert [row["Child record number"] for row in _rows(links)] == [str(mine.child.pk)]
    assert result.flagged > 3
    assert "Check before release" in files["summary.html"]


def test_a_parent_export_holds_the_parent_and_flags_the_child(
    la: LocalAuthority, two_families: tuple[Any, Any]
) -> None:
    mine, other = two_families
    manager = make_user(Role.EHE_MANAGER, la)
    result = subject_access_export(
        user=manager, subjects=subjects_for_person(mine.parent), title="Oberon", stem="sar", path="/x/"
    )
    files = _files(result.content)
    [people] = [body for name, body in files.items() if name.endswith("-parents_and_carers.csv")]
    [row] = _rows(people)
    assert (row["First name"], row["Emergency phone"], row[REVIEW_HEADER]) == ("Oberon", "07700 900456", "")
    [child] = [body for name, body in files.items() if name.endswith("-child.csv")]
    assert "The child's own record" in _rows(child)[0][REVIEW_HEADER]
    everything = "\n".join(files.values())
    for secret in other.secrets:
        assert secret.casefold() not in everything.casefold(), secret


def test_the_export_is_logged(la: LocalAuthority, two_families: tuple[Any, Any]) -> None:
    mine, _ = two_families
    manager = make_user(Role.EHE_MANAGER, la)
    subject_access_export(user=manager, subjects=subjects_for_child(mine.child), title="Z", stem="s", path="/sar/")
    row = AccessLog.objects.get(action=AccessAction.SUBJECT_ACCESS)
    assert (row.user, row.child_id, row.path) == (manager, mine.child.pk, "/sar/")


def test_a_manager_downloads_it_from_the_page(la: LocalAuthority, other_la: LocalAuthority, time_machine: Any) -> None:
    time_machine.move_to(at(date(2014, 9, 10)))
    family = family_records(la)
    manager = make_user(Role.EHE_MANAGER, la)
    client = Client()
    client.force_login(manager)
    url = reverse("exports:subject_access_child", kwargs={"pk": family.child.pk})
    page = client.get(url)
    assert page.status_code == 200
    assert "Subject access export for Zephyie Quillfeather" in page.content.decode()
    assert reverse("exports:subject_access_person", kwargs={"pk": family.parent.pk}) in page.content.decode()
    download = client.post(url)
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert f"subject-access-child-{family.child.pk}-" in download["Content-Disposition"]
    assert "summary.html" in _files(download.content)
    assert AccessLog.objects.filter(action=AccessAction.SUBJECT_ACCESS, child=family.child).count() == 1
    person = client.post(reverse("exports:subject_access_person", kwargs={"pk": family.parent.pk}))
    assert person.status_code == 200
    # Another LA's manager cannot reach either.
    outsider = Client()
    outsider.force_login(make_user(Role.EHE_MANAGER, other_la))
    assert outsider.post(url).status_code == 404
    assert outsider.get(reverse("exports:subject_access_person", kwargs={"pk": family.parent.pk})).status_code == 404
    # The case page links to it for managers only.
    case_url = reverse("cases:detail", kwargs={"pk": family.episodes[0].pk})
    assert url in client.get(case_url).content.decode()
    officer = Client()
    officer.force_login(make_user(Role.EHE_OFFICER, la))
    assert url not in officer.get(case_url).content.decode()


def test_formula_cells_are_neutralised(la: LocalAuthority) -> None:
    episode = make_episode(State.MONITORING, child=ChildFactory(local_authority=la, legal_first_name="=HYPERLINK(1)"))
    manager = make_user(Role.EHE_MANAGER, la)
    result = subject_access_export(
        user=manager, subjects=subjects_for_child(episode.child), title="x", stem="s", path="/x/"
    )
    [child] = [body for name, body in _files(result.content).items() if name.endswith("-child.csv")]
    assert _rows(child)[0]["First name"] == "'=HYPERLINK(1)"
