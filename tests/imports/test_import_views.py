"""The import pages: upload, the preview, confirm, the progress JSON, the template."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from ehe_register.models import Child, LocalAuthority, School, User
from ehe_register.roles import Role
from ehe_register.working_days import LONDON
from imports.formats.notifications import REQUIRED
from imports.models import BatchStatus, ImportBatch
from tests.factories import SchoolFactory, make_user
from tests.imports.notification_files import HEADINGS, csv_bytes, row

BLNS = Path(__file__).resolve().parents[1] / "data" / "blns.json"


@pytest.fixture(autouse=True)
def on_a_monday(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.EHE_IMPORT_DIR = str(tmp_path / "imports")
    with time_machine.travel(datetime(2026, 2, 2, 10, tzinfo=LONDON), tick=True):
        yield


@pytest.fixture
def school(la: LocalAuthority) -> School:
    return SchoolFactory(local_authority=la, urn="125001")


@pytest.fixture
def officer(la: LocalAuthority) -> User:
    return make_user(Role.EHE_OFFICER, la)


@pytest.fixture
def client_of(officer: User) -> Client:
    client = Client()
    client.force_login(officer)
    return client


def upload(client: Client, content: bytes, name: str = "notifications.csv") -> Any:
    return client.post(reverse("imports:index"), {"file": SimpleUploadedFile(name, content)})


@pytest.mark.django_db
def test_upload_preview_confirm_and_result(client_of: Client, school: School) -> None:
    response = upload(client_of, csv_bytes([row(school.urn, n) for n in range(3)] + [row(school.urn, 4, sex="X")]))
    batch = ImportBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("imports:batch", kwargs={"pk": batch.pk})

    page = client_of.get(response["Location"]).content.decode()
    assert "What this file would do" in page
    assert 'data-count="new">3<' in page
    assert "Select the child&#x27;s sex" in page  # the error table: row 5, column sex
    assert '<td class="govuk-table__cell">5</td>' in page
    assert not Child.objects.exists()

    client_of.post(reverse("imports:confirm", kwargs={"pk": batch.pk}))
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    assert Child.objects.count() == 3
    progress = json.loads(client_of.get(reverse("imports:progress", kwargs={"pk": batch.pk})).content)
    assert (progress["percent"], progress["rows_done"], progress["finished"]) == (100, 4, True)
    assert "Import complete" in client_of.get(reverse("imports:batch", kwargs={"pk": batch.pk})).content.decode()


@pytest.mark.django_db
def test_a_bad_file_is_explained_next_to_the_field(client_of: Client, school: School) -> None:
    response = upload(client_of, b"\xff\xfe\x00", "n.csv")
    assert response.status_code == 400
    assert "UTF-16" in response.content.decode()
    assert not ImportBatch.objects.exists()


@pytest.mark.django_db
def test_the_same_file_twice_says_it_was_imported(client_of: Client, school: School, officer: User) -> None:
    content = csv_bytes([row(school.urn, 0)])
    upload(client_of, content)
    client_of.post(reverse("imports:confirm", kwargs={"pk": ImportBatch.objects.get().pk}))

    response = upload(client_of, content)

    assert response.status_code == 400
    assert "already imported on 2 February 2026" in response.content.decode()
    assert ImportBatch.objects.count() == 1


@pytest.mark.django_db
def test_a_large_file_is_left_to_a_worker_and_the_page_shows_its_progress(
    client_of: Client, school: School, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EHE_IMPORT_INLINE_ROWS = 2
    upload(client_of, csv_bytes([row(school.urn, n) for n in range(3)]))
    batch = ImportBatch.objects.get()
    queued: list[Any] = []
    from imports import tasks

    original = tasks.batch_run.delay
    tasks.batch_run.delay = lambda *a: queued.append(a)  # type: ignore[method-assign]
    try:
        with django_capture_on_commit_callbacks(execute=True):
            client_of.post(reverse("imports:confirm", kwargs={"pk": batch.pk}))
    finally:
        tasks.batch_run.delay = original  # type: ignore[method-assign]
    assert queued == [(batch.pk,)]
    ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING, rows_done=1)

    page = client_of.get(reverse("imports:batch", kwargs={"pk": batch.pk})).content.decode()

    assert 'data-import-progress="/imports/batches/' in page
    assert '<progress class="app-progress" max="100" value="33"' in page
    assert "You can leave this page" in page
    assert "<script" not in page.split("</main>")[0].split("<main")[1]  # no inline script
    assert not Child.objects.exists()


@pytest.mark.django_db
def test_a_large_file_is_checked_by_a_worker_with_progress_then_previewed(
    client_of: Client,
    school: School,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from imports import tasks
    from imports.services import batch_check

    content = csv_bytes([row(school.urn, n) for n in range(6)] + [row(school.urn, 6, postcode="nowhere")])
    settings.EHE_IMPORT_PREVIEW_INLINE_BYTES = len(content) - 1
    settings.EHE_IMPORT_CHUNK_ROWS = 2
    queued: list[Any] = []
    monkeypatch.setattr(tasks.batch_check, "delay", lambda *a: queued.append(a))

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client_of, content)

    batch = ImportBatch.objects.get()
    assert response.status_code == 302
    assert queued == [(batch.pk,)]  # the request did not read the rows
    assert (batch.status, batch.rows_total, batch.new_count) == (BatchStatus.CHECKING, 0, 0)
    ImportBatch.objects.filter(pk=batch.pk).update(rows_done=2, rows_total=8)
    page = client_of.get(reverse("imports:batch", kwargs={"pk": batch.pk})).content.decode()
    assert 'data-import-progress="/imports/batches/' in page
    assert "Checking the file" in page
    assert '<progress class="app-progress" max="100" value="25"' in page
    assert "Import 8 rows" not in page  # nothing to confirm until every row is checked
    progress = client_of.get(reverse("imports:progress", kwargs={"pk": batch.pk})).json()
    assert (progress["status"], progress["finished"], progress["rows_done"]) == ("checking", False, 2)

    batch_check(batch_id=batch.pk)  # what the worker runs

    batch.refresh_from_db()
    assert (batch.status, batch.rows_total, batch.new_count, batch.error_count) == (BatchStatus.PREVIEWED, 7, 6, 1)
    assert client_of.get(reverse("imports:progress", kwargs={"pk": batch.pk})).json()["finished"] is True
    page = client_of.get(reverse("imports:batch", kwargs={"pk": batch.pk})).content.decode()
    assert "Import 7 rows" in page
    assert "data-import-progress" not in page
    assert not Child.objects.exists()


@pytest.mark.django_db
def test_a_large_file_that_cannot_be_read_fails_with_the_message(
    client_of: Client, school: School, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imports import tasks
    from imports.services import batch_check

    content = csv_bytes([row(school.urn, n) for n in range(5)]) + b"\xff\xfe not text\n"
    settings.EHE_IMPORT_PREVIEW_INLINE_BYTES = 10
    monkeypatch.setattr(tasks.batch_check, "delay", lambda *a: None)
    upload(client_of, content)
    batch = ImportBatch.objects.get()

    batch = batch_check(batch_id=batch.pk)

    assert batch.status == BatchStatus.FAILED
    assert "not UTF-8" in batch.failure
    assert "Nothing was imported" in batch.failure
    page = client_of.get(reverse("imports:batch", kwargs={"pk": batch.pk})).content.decode()
    assert "not UTF-8" in page
    assert not Child.objects.exists()


@pytest.mark.django_db
def test_another_las_batch_is_not_found(client_of: Client, school: School, other_la: LocalAuthority) -> None:
    upload(client_of, csv_bytes([row(school.urn, 0)]))
    batch = ImportBatch.objects.get()
    other = Client()
    other.force_login(make_user(Role.EHE_OFFICER, other_la))
    assert other.get(reverse("imports:batch", kwargs={"pk": batch.pk})).status_code == 404
    assert other.post(reverse("imports:confirm", kwargs={"pk": batch.pk})).status_code == 404
    assert ImportBatch.objects.get().status == BatchStatus.PREVIEWED


@pytest.mark.django_db
@pytest.mark.parametrize("extension", ["csv", "xlsx"])
def test_the_template_has_the_headings_and_an_example_row_that_imports(
    client_of: Client, school: School, extension: str
) -> None:
    response = client_of.get(reverse("imports:template", kwargs={"kind": "notifications", "extension": extension}))
    assert response.status_code == 200
    if extension == "csv":
        headings, _example = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    else:
        sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
        headings, _example = ([("" if c is None else str(c)) for c in r] for r in sheet.iter_rows(values_only=True))
    assert headings == HEADINGS
    assert set(REQUIRED) <= set(headings)
    # The example row, as downloaded, is a valid notification.
    response = upload(client_of, response.content, f"template.{extension}")
    batch = ImportBatch.objects.get()
    assert (batch.new_count, batch.error_count) == (1, 0), list(batch.row_errors.values_list("message", flat=True))


@pytest.mark.django_db
def test_hostile_strings_as_cell_values_never_give_a_server_error(client_of: Client, school: School) -> None:
    strings = json.loads(BLNS.read_text())
    for n, value in enumerate(strings[:120]):
        content = csv_bytes([row(school.urn, n, legal_first_name=value, reason_detail=value)])
        response = upload(client_of, content, f"hostile-{n}.csv")
        assert response.status_code in (302, 400), (value, response.status_code)
    assert not Child.objects.exists()
