"""Production posture and a newcomer's first run, checked in fresh processes so no test setting
leaks in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import environ
import pytest
from django.test import Client

from ehe_register.embedded_db import database_url

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k" * 10 + "an-example-key-used-only-by-this-test-0123456789abcdef"


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = run_manage("check", DJANGO_ENV="production", DJANGO_ALLOWED_HOSTS="ehe.example.gov.uk")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_a_short_secret_key() -> None:
    result = run_manage(
        "check", DJANGO_ENV="production", DJANGO_SECRET_KEY="short", DJANGO_ALLOWED_HOSTS="ehe.example.gov.uk"
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts() -> None:
    result = run_manage("check", DJANGO_ENV="production", DJANGO_SECRET_KEY=STRONG_KEY)
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


@pytest.mark.parametrize("extra", [{}, {"EHE_REQUIRE_2FA": "true"}])
def test_production_passes_the_deploy_checks_without_a_warning(extra: dict[str, str]) -> None:
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=STRONG_KEY,
        DJANGO_ALLOWED_HOSTS="ehe.example.gov.uk",
        **extra,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_switches_two_factor_on_and_debug_off() -> None:
    code = "from django.conf import settings; print(settings.EHE_REQUIRE_2FA, settings.DEBUG)"
    result = run_manage(
        "shell",
        "-c",
        code,
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=STRONG_KEY,
        DJANGO_ALLOWED_HOSTS="ehe.example.gov.uk",
    )
    assert result.stdout.strip().splitlines()[-1] == "True False", result.stderr


# --- A newcomer's first run (`make run`, `make test` with nothing configured) -------------------------


@pytest.mark.parametrize(("value", "debug"), [("0", "False"), ("1", "True")])
def test_django_debug_switches_debug_pages(value: str, debug: str) -> None:
    # `make run` sets DJANGO_DEBUG=0: a council sees the product's own error pages, never Django's.
    result = run_manage("shell", "-c", "from django.conf import settings; print(settings.DEBUG)", DJANGO_DEBUG=value)
    assert result.stdout.strip().splitlines()[-1] == debug, result.stderr


@pytest.mark.django_db
def test_an_unknown_address_gets_the_products_own_page_not_found(client: Client, settings: Any) -> None:
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "If you pasted the web address, check you copied the entire address." in response.content.decode()


def test_the_filesystem_broker_keeps_every_folder_under_var(tmp_path: Path) -> None:
    """With CELERY_BROKER_URL unset, kombu's folders are all under var/, whatever the working
    directory: binding a queue writes its exchange table there, and nothing in the directory the
    process was started from."""
    name = f"ehe-settings-test-{uuid.uuid4().hex[:8]}"
    code = (
        "import json; from django.conf import settings; from kombu import Exchange, Queue;"
        "from ehe_register.celery import app;"
        "conn = app.connection_for_write();"
        f"Queue({name!r}, Exchange({name!r}), {name!r})(conn.default_channel).declare();"
        "conn.release();"
        "print(settings.CELERY_BROKER_URL, json.dumps(settings.CELERY_BROKER_TRANSPORT_OPTIONS))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL",) and not k.startswith("DJANGO_")}
    result = subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    exchange_table = ROOT / "var" / "celery" / "control" / f"{name}.exchange"
    try:
        assert result.returncode == 0, result.stderr
        url, options = result.stdout.strip().splitlines()[-1].split(" ", 1)
        folders = {key: Path(value) for key, value in json.loads(options).items() if "folder" in key}
        assert url == "filesystem://"
        assert set(folders) == {"data_folder_in", "data_folder_out", "processed_folder", "control_folder"}
        for key, folder in folders.items():
            assert folder.is_relative_to(ROOT / "var"), key
        assert exchange_table.exists()
        assert list(tmp_path.iterdir()) == []
    finally:
        exchange_table.unlink(missing_ok=True)


def test_the_repository_has_no_broker_folder_outside_var() -> None:
    # kombu's default control folder is ``control/`` in the working directory; it belongs in var/.
    assert not (ROOT / "control").exists()


@pytest.mark.parametrize(
    "config",
    [
        {"USER": "postgres", "PASSWORD": "", "HOST": "/work/a checkout+1/var/pgdata", "PORT": 5432, "NAME": "test_x"},
        {"USER": "postgres", "PASSWORD": "p@ss:/w%", "HOST": "127.0.0.1", "PORT": 5432, "NAME": "ehe_ci"},
        {"USER": "ehe", "PASSWORD": "", "HOST": "::1", "PORT": 5433, "NAME": "ehe"},
        {"USER": "ehe", "PASSWORD": "", "HOST": "db.example.gov.uk", "PORT": "", "NAME": "ehe"},
    ],
)
def test_a_database_url_reads_back_as_the_same_database(config: dict[str, Any]) -> None:
    # The Celery integration tests hand the test database to a worker this way; a socket directory
    # (the embedded server) once came back as a host name and the worker could not connect.
    parsed = environ.Env.db_url_config(database_url(config))
    assert {key: parsed[key] for key in config} == config
