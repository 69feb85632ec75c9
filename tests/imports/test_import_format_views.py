"""The upload pages of the CTF, the schools list and an existing register, and the register's
column step: upload, choose the columns (saved for next time), preview, confirm, and each case's
origin on its page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from ehe_register.models import Child, LocalAuthority, School, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON
from imports.formats.legacy import column_mapping_get, column_mapping_save
from imports.models import BatchStatus, ImportBatch
from tests.factories import SchoolFactory, make_user
from tests.imports.ctf_files import PUPILS, ctf
from tests.imports.gias_files import ROWS as GIAS_ROWS
from tests.imports.gias_files import extract
from tests.imports.legacy_files import COLUMNS, HEADINGS, REGISTER, register_file
from workflows.models import Episode

AS_OF = datetime(2026, 12, 1, 10, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def on_a_tuesday(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.EHE_IMPORT_DIR = str(tmp_path / "imports")
    with time_machine.travel(AS_OF, tick=True):
        yield


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(client: Client, url: str, content: bytes, name: str, **fields: Any) -> Any:
    return client.post(reverse(url), {"file": SimpleUploadedFile(name, content), **fields})


def confirm(client: Client, batch: ImportBatch) -> ImportBatch:
    client.post(reverse("imports:confirm", kwargs={"pk": batch.pk}))
    batch.refresh_from_db()
    return batch


@pytest.mark.django_db
def test_a_ctf_is_uploaded_previewed_confirmed_and_its_origin_shown_on_the_case(
    la: LocalAuthority, officer: User
) -> None:
    SchoolFactory(local_authority=la, establishment_number="4001", name="Ashcombe School")
    client = client_for(officer)
    assert 'href="/imports/ctf/"' in client.get(reverse("imports:index")).content.decode()
    assert 'href="/imports/gias/"' not in client.get(reverse("imports:index")).content.decode()

    response = upload(client, "imports:ctf", ctf(PUPILS), "leavers.xml")
    batch = ImportBatch.objects.get()
    assert response["Location"] == reverse("imports:batch", kwargs={"pk": batch.pk})
    page = client.get(response["Location"]).content.decode()
    assert "Import of a Common Transfer File (CTF)" in page
    assert 'data-count="new">3<' in page
    assert not Child.objects.exists()

    assert confirm(client, batch).status == BatchStatus.DONE
    assert "A Common Transfer File (CTF)</td>" in client.get(reverse("imports:index")).content.decode()
    episode = Episode.objects.order_by("pk").first()
    assert episode is not None
    case = client.get(reverse("cases:detail", kwargs={"pk": episode.pk})).content.decode()
    assert "Common Transfer File from Ashcombe School, leavers.xml, pupil 1" in case


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "content", "name", "message"),
    [
        ("imports:ctf", b"<!DOCTYPE x [<!ENTITY a 'b'>]><CTfile/>", "bomb.xml", "declares a document type (DTD)"),
        ("imports:ctf", b"<CTfile/>", "leavers.csv", "must be an XML file"),
        ("imports:legacy", b"", "register.csv", "The selected file is empty"),
        ("imports:legacy", b"Ref,Forename\n", "register.csv", "no rows to import"),
        ("imports:legacy", b"Ref,Ref\nA,B\n", "register.csv", "appear more than once: Ref"),
    ],
)
def test_a_bad_file_is_explained_next_to_the_field_and_nothing_kept(
    la: LocalAuthority, officer: User, url: str, content: bytes, name: str, message: str
) -> None:
    response = upload(client_for(officer), url, content, name)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ImportBatch.objects.exists()


@pytest.mark.django_db
def test_the_schools_list_is_for_ehe_managers(la: LocalAuthority, officer: User) -> None:
    manager = make_user(Role.EHE_MANAGER, la)
    client = client_for(manager)
    assert 'href="/imports/gias/"' in client.get(reverse("imports:index")).content.decode()

    response = upload(client, "imports:gias", extract(GIAS_ROWS).getvalue(), "edubasealldata20261201.csv")
    batch = ImportBatch.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert "New schools" in page
    assert 'data-count="new">4<' in page
    # An officer of the LA sees the batch but may not confirm it.
    other = client_for(officer)
    assert "Import 5 rows" not in other.get(response["Location"]).content.decode()
    assert other.post(reverse("imports:confirm", kwargs={"pk": batch.pk})).status_code == 403
    assert not School.objects.exists()

    assert confirm(client, batch).status == BatchStatus.DONE
    assert School.objects.count() == 4


@pytest.mark.django_db
def test_the_register_asks_for_its_columns_saves_them_and_previews(la: LocalAuthority, officer: User) -> None:
    client = client_for(officer)
    response = upload(client, "imports:legacy", register_file(REGISTER), "register.csv")
    assert response["Location"] == reverse("imports:legacy_columns")
    assert not ImportBatch.objects.exists()

    page = client.get(response["Location"]).content.decode()
    assert "Which column holds what" in page
    assert "register.csv" in page
    assert '<option value="Forename" selected>' in page  # suggested from the headings

    refused = client.post(response["Location"], {**COLUMNS, "state": "", "postcode": "Forename"})
    assert refused.status_code == 400
    text = refused.content.decode()
    assert "Choose the column that holds the state of the case" in text
    assert "Forename is already chosen for legal first name" in text
    assert column_mapping_get(local_authority=la) == {}
    assert not ImportBatch.objects.exists()

    done = client.post(response["Location"], COLUMNS)
    batch = ImportBatch.objects.get()
    assert done["Location"] == reverse("imports:batch", kwargs={"pk": batch.pk})
    assert column_mapping_get(local_authority=la) == COLUMNS
    assert (batch.kind, batch.new_count, batch.error_count) == ("legacy", 3, 0)
    assert confirm(client, batch).status == BatchStatus.DONE

    episode = Episode.objects.order_by("pk").first()
    assert episode is not None
    case = client.get(reverse("cases:detail", kwargs={"pk": episode.pk})).content.decode()
    assert "Existing register, register.csv, row 2, reference EHE/2019/041" in case  # the case's source
    assert "Imported from the existing register, register.csv" in case  # the timeline's entry
    # The step is over: the column page sends the person back to upload.
    assert client.get(reverse("imports:legacy_columns"))["Location"] == reverse("imports:legacy")


@pytest.mark.django_db
def test_the_saved_columns_are_used_when_they_fit_and_offered_when_they_do_not(
    la: LocalAuthority, officer: User
) -> None:
    column_mapping_save(local_authority=la, columns=COLUMNS, actor=officer, as_of=AS_OF)
    client = client_for(officer)

    fits = upload(client, "imports:legacy", register_file(REGISTER[:1]), "one.csv")
    assert fits["Location"] == reverse("imports:batch", kwargs={"pk": ImportBatch.objects.get().pk})

    asked = upload(client, "imports:legacy", register_file(REGISTER[1:]), "two.csv", check_columns="on")
    assert asked["Location"] == reverse("imports:legacy_columns")

    renamed = [h if h != "Surname" else "Family name" for h in HEADINGS]
    rows = [{("Family name" if k == "Surname" else k): v for k, v in r.items()} for r in REGISTER[2:]]
    response = upload(client, "imports:legacy", register_file(rows, renamed), "three.csv")
    assert response["Location"] == reverse("imports:legacy_columns")
    page = client.get(response["Location"]).content.decode()
    assert "three.csv" in page
    assert '<option value="Ref" selected>' in page  # the saved choice, where the file still has it
    assert ImportBatch.objects.count() == 1


@pytest.mark.django_db
def test_the_column_step_without_an_upload_goes_back_to_the_upload(officer: User) -> None:
    client = client_for(officer)
    session = client.session
    session["imports_legacy_upload"] = {"kept": "../../etc/passwd", "file_name": "x.csv"}
    session.save()
    assert client.get(reverse("imports:legacy_columns"))["Location"] == reverse("imports:legacy")


@pytest.mark.django_db
def test_hostile_headings_are_offered_as_columns_without_a_server_error(officer: User) -> None:
    import json

    strings = json.loads((Path(__file__).resolve().parents[1] / "data" / "blns.json").read_text())
    from imports.formats.tabular import is_formula

    headings = list(dict.fromkeys(s.strip() for s in strings if s.strip() and not is_formula(s.strip())))[:200]
    client = client_for(officer)
    content = register_file([{h: "x" for h in headings}], headings)
    response = upload(client, "imports:legacy", content, "hostile.csv")
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(response["Location"])
    assert page.status_code == 200
    refused = client.post(reverse("imports:legacy_columns"), {"state": headings[0]})
    assert refused.status_code == 400
    assert not ImportBatch.objects.exists()


@pytest.mark.django_db
def test_the_columns_can_be_chosen_again_from_the_preview(
    la: LocalAuthority, other_la: LocalAuthority, officer: User
) -> None:
    column_mapping_save(local_authority=la, columns=COLUMNS, actor=officer, as_of=AS_OF)
    client = client_for(officer)
    preview_url = upload(client, "imports:legacy", register_file(REGISTER), "register.csv")["Location"]
    first = ImportBatch.objects.get()
    again = f"{reverse('imports:legacy_columns')}?batch={first.pk}"
    assert again in client.get(preview_url).content.decode()
    # Another LA's officer cannot reach this LA's file.
    assert client_for(make_user(Role.EHE_OFFICER, other_la)).get(again).status_code == 404

    assert client.get(again)["Location"] == reverse("imports:legacy_columns")
    page = client.get(reverse("imports:legacy_columns")).content.decode()
    assert "register.csv" in page
    done = client.post(reverse("imports:legacy_columns"), {**COLUMNS, "review_due_on": ""})
    second = ImportBatch.objects.exclude(pk=first.pk).get()
    assert done["Location"] == reverse("imports:batch", kwargs={"pk": second.pk})
    # Without the review date, the two monitoring cases are errors now.
    assert (second.new_count, second.error_count) == (1, 2)
    assert "review_due_on" not in column_mapping_get(local_authority=la)
