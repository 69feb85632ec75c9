"""Each measurement in a process of its own, against one benchmark database.

The parent (``run_step``) starts ``python -m bench _step NAME ARGS`` with the database named in the
environment, watches the child's peak resident memory (``VmHWM``) while it runs, and stops it when
its time is up: a sweep that does not finish is recorded as failed (its transaction rolls back
when its connection goes) rather than hanging the run. The child prints one result line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from typing import Any

from bench import databases

RESULT = "BENCH-RESULT "


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def run_step(name: str, database: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run step ``name`` against ``database``; its result, plus ``wall_seconds`` and ``peak_rss_mb``."""
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as out:
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-m", "bench", "_step", name, json.dumps(args)],
            env=databases.child_env(database),
            stdout=out,
            cwd=databases.ROOT,
            start_new_session=True,
        )
        peak = 0.0
        timed_out = False
        while child.poll() is None:
            peak = max(peak, _vm_hwm_mb(child.pid) or 0.0)
            if time.monotonic() - started > timeout:
                timed_out = True
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                break
            time.sleep(0.2)
        wall = round(time.monotonic() - started, 2)
        out.seek(0)
        lines = [line[len(RESULT) :] for line in out.read().splitlines() if line.startswith(RESULT)]
    if timed_out:
        databases.drop_connections(database)
        return {
            "status": f"failed: stopped after the {timeout:.0f} s timeout",
            "wall_seconds": wall,
            "peak_rss_mb": peak,
        }
    if child.returncode != 0 or not lines:
        return {
            "status": f"failed: exit code {child.returncode} (see the log above)",
            "wall_seconds": wall,
            "peak_rss_mb": peak,
        }
    result: dict[str, Any] = json.loads(lines[-1])
    result["wall_seconds"] = wall
    result["peak_rss_mb"] = max(peak, float(result.get("peak_rss_mb", 0.0)))
    return result


def child_main(name: str, raw_args: str) -> None:
    """In the child: run one step and print its result."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    args = json.loads(raw_args)
    for key in ("as_of",):
        if key in args:
            args[key] = datetime.fromisoformat(args[key])
    from bench import measure

    if name == "build":
        from dataclasses import asdict

        from bench.builder import build

        result: dict[str, Any] = asdict(build(**args))
        result["peak_rss_mb"] = measure.peak_rss_mb()
    elif name == "sweep":
        result = measure.sweep_measure(**args)
    elif name == "pages":
        result = measure.pages_measure(**args)
    elif name == "http":
        result = measure.http_measure(**args)
    elif name == "import":
        result = measure.import_measure(**args)
    else:
        raise SystemExit(f"no step {name}")
    print(RESULT + json.dumps(result, default=str), flush=True)
