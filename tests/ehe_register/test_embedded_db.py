"""The embedded PostgreSQL killed under ``make run``: the watcher says so plainly and starts it
again, and what was saved is still there.

Tested on a server of its own under a temporary directory, through the functions ``make run``
uses (``start``, and ``watch``'s ``restart_if_stopped``), not by running ``make run`` itself
(which migrates and seeds the demo data: minutes, not seconds). What a user sees while it is
down (503 "Sorry, the service is unavailable") is tested in ``tests/test_faults.py``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ehe_register import embedded_db

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the embedded server runs on POSIX here")


def _until(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def own_server(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    pytest.importorskip("pgserver")
    pgdata = tmp_path_factory.mktemp("embedded") / "pgdata"
    monkeypatch.setattr(embedded_db, "PGDATA", pgdata)
    embedded_db.start()
    yield pgdata
    embedded_db.stop()


def _connect() -> psycopg.Connection[Any]:
    config = embedded_db.database_config()
    return psycopg.connect(dbname=config["NAME"], user=config["USER"], host=config["HOST"], port=config["PORT"])


def test_killed_it_is_reported_and_started_again_with_its_data(own_server: Path) -> None:
    with _connect() as db:
        db.execute("CREATE TABLE kept (note text)")
        db.execute("INSERT INTO kept VALUES ('saved before the crash')")
    assert embedded_db.running()
    assert embedded_db.restart_if_stopped() is False  # running: nothing to do, nothing said

    postmaster = int((own_server / "postmaster.pid").read_text().splitlines()[0])
    os.kill(postmaster, signal.SIGKILL)
    _until(lambda: not embedded_db.running(), "the server to die")
    with pytest.raises(psycopg.OperationalError):
        _connect().close()

    said: list[str] = []
    assert embedded_db.restart_if_stopped(write=lambda text, **_: said.append(text)) is True
    assert said[0] == embedded_db.STOPPED_MESSAGE
    assert "has stopped" in said[0]
    assert "service is unavailable" in said[0]
    assert "running again" in said[1]

    assert embedded_db.running()
    with _connect() as db:
        assert db.execute("SELECT note FROM kept").fetchall() == [("saved before the crash",)]


def test_a_stale_postmaster_pid_is_not_taken_for_a_running_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded_db, "PGDATA", tmp_path)
    assert embedded_db.running() is False  # no file
    (tmp_path / "postmaster.pid").write_text("999999999\n/x\n0\n5432\n/tmp\n")
    assert embedded_db.running() is False  # a process that does not exist
    (tmp_path / "postmaster.pid").write_text("not a pid\n")
    assert embedded_db.running() is False


def test_the_procfile_watches_the_embedded_server() -> None:
    procfile = (Path(embedded_db.BASE_DIR) / "Procfile").read_text()
    assert "db: .venv/bin/python -m ehe_register.embedded_db watch" in procfile
