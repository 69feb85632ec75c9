"""A large import run by a real Celery worker on Redis (the worker of
``tests/notifications/test_celery_integration.py``), with its progress recorded as it goes."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from ehe_register.models import Child, LocalAuthority, OffRollNotification
from ehe_register.roles import Role
from imports import tasks
from imports.models import BatchStatus, ImportBatch
from imports.services import batch_confirm, batch_preview
from tests.factories import SchoolFactory, make_user
from tests.imports.notification_files import csv_bytes, row
from tests.notifications.test_celery_integration import (  # noqa: F401 - the fixtures, by name
    CELERY,
    REDIS_URL,
    Worker,
    _redis_up,
    _wait_for,
    queue,
    workers,
)

pytestmark = [
    pytest.mark.celery_integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CELERY.exists(), reason="no celery executable in .venv"),
    pytest.mark.skipif(not _redis_up(), reason=f"Redis is not answering at {REDIS_URL}"),
]


def test_a_large_file_is_imported_by_a_worker_chunk_by_chunk(
    la: LocalAuthority,
    queue: str,  # noqa: F811
    workers: Callable[..., Worker],  # noqa: F811
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "imports"
    settings.EHE_IMPORT_DIR = str(folder)
    monkeypatch.setenv("EHE_IMPORT_DIR", str(folder))  # the worker reads the same uploads
    monkeypatch.setenv("EHE_IMPORT_CHUNK_ROWS", "50")
    settings.EHE_IMPORT_CHUNK_ROWS = 50
    settings.EHE_IMPORT_INLINE_ROWS = 10
    monkeypatch.setattr(tasks.batch_run, "delay", partial(_to_queue, queue))
    school = SchoolFactory(local_authority=la, urn="125001")
    officer = make_user(Role.EHE_OFFICER, la)
    worker = workers(queue, 2525)
    batch = batch_preview(
        user=officer,
        kind="notifications",
        file_name="large.csv",
        chunks=iter([csv_bytes([row(school.urn, n) for n in range(300)])]),
    )

    batch = batch_confirm(batch_id=batch.pk, user=officer)

    assert batch.status == BatchStatus.CONFIRMED  # left to the worker
    assert not Child.objects.exists()
    done = _wait_for(
        lambda: ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.DONE).first(), "the import", timeout=240
    )
    assert (done.rows_done, done.rows_total, done.new_count, done.percent_done) == (300, 300, 300, 100)
    assert done.rows_per_second > 0
    assert Child.objects.count() == OffRollNotification.objects.count() == 300
    assert "imports.batch_run" in worker.text()

    # The task again (a redelivery) changes nothing.
    result = tasks.batch_run.apply_async(args=[batch.pk], queue=queue)
    _wait_for(lambda: worker.succeeded(result.id), "the second run")
    assert Child.objects.count() == 300
    assert ImportBatch.objects.get(pk=batch.pk).finished_at == done.finished_at


def _to_queue(queue: str, batch_id: int) -> Any:  # noqa: F811
    return tasks.batch_run.apply_async(args=[batch_id], queue=queue)


def test_a_large_file_is_checked_by_a_worker_then_imported(
    la: LocalAuthority,
    queue: str,  # noqa: F811
    workers: Callable[..., Worker],  # noqa: F811
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "imports"
    settings.EHE_IMPORT_DIR = str(folder)
    monkeypatch.setenv("EHE_IMPORT_DIR", str(folder))
    monkeypatch.setenv("EHE_IMPORT_CHUNK_ROWS", "50")
    settings.EHE_IMPORT_CHUNK_ROWS = 50
    settings.EHE_IMPORT_PREVIEW_INLINE_BYTES = 1024
    settings.EHE_IMPORT_INLINE_ROWS = 10
    monkeypatch.setattr(
        tasks.batch_check, "delay", lambda batch_id: tasks.batch_check.apply_async([batch_id], queue=queue)
    )
    monkeypatch.setattr(tasks.batch_run, "delay", partial(_to_queue, queue))
    school = SchoolFactory(local_authority=la, urn="125001")
    officer = make_user(Role.EHE_OFFICER, la)
    worker = workers(queue, 2526)
    rows = [row(school.urn, n) for n in range(300)] + [row(school.urn, 300, date_of_birth="not a date")]

    batch = batch_preview(user=officer, kind="notifications", file_name="large.csv", chunks=iter([csv_bytes(rows)]))

    assert batch.status == BatchStatus.CHECKING
    checked = _wait_for(
        lambda: ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.PREVIEWED).first(), "the check", timeout=240
    )
    assert (checked.rows_total, checked.new_count, checked.error_count) == (301, 300, 1)
    assert checked.row_errors.get().column == "date_of_birth"
    assert not Child.objects.exists()  # the check writes nothing
    assert "imports.batch_check" in worker.text()

    batch_confirm(batch_id=batch.pk, user=officer)
    done = _wait_for(
        lambda: ImportBatch.objects.filter(pk=batch.pk, status=BatchStatus.DONE).first(), "the import", timeout=240
    )
    assert (done.new_count, done.error_count) == (300, 1)
    assert Child.objects.count() == 300


def _check_to_queue(queue: str, batch_id: int) -> Any:  # noqa: F811
    return tasks.batch_check.apply_async(args=[batch_id], queue=queue)
