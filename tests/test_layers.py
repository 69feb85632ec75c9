"""The import-linter contract in pyproject.toml keeps the layers one way, and it can fail.

The contract is run on a copy of the source with one import that breaks a layer added: the
register's core importing the state machine. A contract that passed that copy would be no guard.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ehe_register", "notifications", "workflows", "imports")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _copy_source(to: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, to / package, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    shutil.copy(ROOT / "pyproject.toml", to / "pyproject.toml")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own virtualenv's tool on our own files
        [str(LINT_IMPORTS), "--config", "pyproject.toml", "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_layers_hold_today(tmp_path: Path) -> None:
    _copy_source(tmp_path)
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("ehe_register/validators.py", "import workflows.models", "The register's core imports nothing above it"),
        ("notifications/services.py", "import workflows.sweeps", "Notifications import neither workflows nor imports"),
        ("workflows/sweeps.py", "import workflows.views.queues", "never call up to views, forms or URLs"),
    ],
)
def test_an_import_that_breaks_a_layer_fails(tmp_path: Path, module: str, bad_import: str, contract: str) -> None:
    _copy_source(tmp_path)
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{bad_import}  # breaks a layer\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert contract in result.stdout
    assert "BROKEN" in result.stdout
