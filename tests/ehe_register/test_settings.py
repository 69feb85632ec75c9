"""Production posture, checked in fresh processes so no test setting leaks in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
