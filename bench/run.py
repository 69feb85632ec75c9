"""``python -m bench``: build (or reuse) each scale's database, measure, and write the report.

Per scale: the database ``ehe_bench_<scale>`` is reused while its fingerprint holds; two copies
of it take the product's sweep and the hand-written SQL at the same ``as_of`` (first sweep, then a
steady sweep 15 minutes later, the beat's interval, then a full re-check as the nightly sweep does
it: ``SWEEP_KINDS``); the pages and the submissions are measured
on the product's copy after its sweeps (escalations raised, as in service); the copies are
dropped at the end. Results go to ``<out>/bench/<scale>.json`` and ``<out>/bench/latest.json``,
and ``<out>/PERFORMANCE.md`` is written from every scale's latest JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench import databases
from bench.steps import run_step

STEADY_AFTER = timedelta(minutes=15)
# The sweeps measured, in order: the first after the load (the periodic sweep finds no mark, so it
# checks everything), the next periodic one (incremental), and a full re-check as the nightly sweep
# does it, on the same day so that it too finds nothing new.
SWEEP_KINDS = (
    ("first", timedelta(0), "periodic"),
    ("steady", STEADY_AFTER, "periodic"),
    ("full re-check", 2 * STEADY_AFTER, "full"),
)
# The hand-written SQL checks every rule against every case each time it runs, so its steady run is
# already a full re-check 15 minutes on: the full re-check row reuses it rather than running the
# same SQL again (47 s at a million children).
REFERENCE_REUSED = {"full re-check": "steady"}


def _log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    import django

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(
            next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")).split()[1]
        )
    except (OSError, StopIteration):
        mem_kb = 0
    with databases.maintenance() as conn:
        row = conn.execute("SHOW server_version").fetchone()
        pg = row[0] if row else "unknown"
        settings = {
            name: (conn.execute(f"SHOW {name}").fetchone() or ["?"])[0]
            for name in ("shared_buffers", "work_mem", "max_wal_size")
        }
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "postgresql": pg,
        "postgresql_settings": settings,
        "django": django.get_version(),
    }


def _ensure_database(scale: int, rebuild: bool, timeout: float) -> dict[str, Any]:
    name = databases.database_name(scale)
    fingerprint = databases.fingerprint()
    if databases.exists(name) and not rebuild:
        try:
            info = json.loads(databases.comment(name) or "{}")
        except json.JSONDecodeError:
            info = {}
        if info.get("fingerprint") == fingerprint:
            _log(f"reusing {name} (built {info.get('built_at')})")
            info["reused"] = True
            info["name"] = name
            return info
        added = databases.only_new_migrations(info)
        if added:
            _log(f"{name}: migrating forward ({', '.join(added)})")
            started = time.monotonic()
            databases.migrate(name)
            databases.analyze(name)
            info.update(
                fingerprint=fingerprint,
                migrations=databases.migration_digests(),
                migrated_forward=[*info.get("migrated_forward", []), *added],
                migrate_forward_seconds=round(time.monotonic() - started, 1),
            )
            databases.set_comment(name, json.dumps(info))
            info["reused"] = True
            info["name"] = name
            return info
        _log(f"{name}: the schema or builder changed: rebuilding")
    from bench.builder import as_of_default

    as_of = as_of_default()
    databases.drop(name)
    databases.create(name)
    started = time.monotonic()
    _log(f"{name}: migrating")
    databases.migrate(name)
    migrate_seconds = round(time.monotonic() - started, 1)
    _log(f"{name}: building {scale:,} children")
    built = run_step("build", name, {"scale": scale, "as_of": as_of.isoformat()}, timeout)
    if not str(built.get("status", "finished")).startswith("finished") and "rows" not in built:
        raise SystemExit(f"building {name} failed: {built['status']}")
    info = {
        "fingerprint": fingerprint,
        "builder_version": databases.BUILDER_VERSION,
        "migrations": databases.migration_digests(),
        "as_of": as_of.isoformat(),
        "built_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "migrate_seconds": migrate_seconds,
        "build_seconds": built["wall_seconds"],
        "build_peak_rss_mb": built["peak_rss_mb"],
        "rows": built["rows"],
        "largest_la": built["largest_la"],
        "largest_share": built["largest_share"],
        "artificial_la": built["artificial_la"],
        "artificial_cases": built["artificial_cases"],
        "size_mb": round(databases.size(name) / 1024 / 1024),
    }
    databases.set_comment(name, json.dumps(info))
    info["reused"] = False
    info["name"] = name
    return info


def measure_scale(scale: int, opts: argparse.Namespace) -> dict[str, Any]:
    data = _ensure_database(scale, opts.rebuild, opts.build_timeout)
    name = databases.database_name(scale)
    as_of = datetime.fromisoformat(data["as_of"])
    product, reference = databases.database_name(scale, "sweep"), databases.database_name(scale, "ref")
    result: dict[str, Any] = {"scale": scale, "database": data}
    try:
        _log("copying the database for the two sweeps")
        databases.copy(name, product)
        databases.copy(name, reference)
        sweeps: dict[str, Any] = {}
        for kind, after, mode in SWEEP_KINDS:
            for impl, db in (("product", product), ("reference", reference)):
                if kind != "first" and not str(sweeps["first"][impl].get("status")).startswith("finished"):
                    sweeps.setdefault(kind, {})[impl] = {"status": "not reached: the first sweep failed"}
                    continue
                if impl == "reference" and kind in REFERENCE_REUSED:
                    same = REFERENCE_REUSED[kind]
                    sweeps.setdefault(kind, {})[impl] = {**sweeps[same][impl], "same_as": same}
                    continue
                _log(f"{kind} sweep, {impl}")
                sweeps.setdefault(kind, {})[impl] = run_step(
                    "sweep", db, {"impl": impl, "as_of": (as_of + after).isoformat(), "mode": mode}, opts.sweep_timeout
                )
        result["sweeps"] = sweeps
        databases.drop(reference)
        if not str(sweeps["first"]["product"].get("status")).startswith("finished"):
            databases.copy(name, product)  # pages on the data as loaded
            result["pages_note"] = "the product's first sweep failed: pages measured on the data as loaded"
        _log("pages")
        result["pages"] = run_step(
            "pages", product, {"requests": opts.requests, "budget": opts.page_budget}, opts.pages_timeout
        )
        _log("submissions over HTTP")
        result["http"] = run_step(
            "http",
            product,
            {"seconds": opts.http_seconds, "healthz_seconds": opts.healthz_seconds},
            opts.http_seconds + opts.healthz_seconds + 300,
        )
        if scale == opts.import_scale:
            _log(f"import of {opts.import_rows:,} rows against COPY")
            result["import"] = run_step("import", product, {"rows": opts.import_rows}, opts.import_timeout)
        else:
            result["import"] = {
                "status": f"measured once a run, at its largest scale ({opts.import_scale:,} children in this run)"
            }
    finally:
        for db in (product, reference):
            databases.drop(db)
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=int, help="One scale (number of children).")
    p.add_argument("--scales", default="10000,100000,1000000", help="Comma-separated scales (default: all three).")
    p.add_argument("--rebuild", action="store_true", help="Rebuild the databases even if their schema is unchanged.")
    p.add_argument("--requests", type=int, default=50, help="Requests per page (default 50).")
    p.add_argument("--page-budget", type=float, default=60, help="Seconds per page before fewer requests are taken.")
    p.add_argument("--http-seconds", type=float, default=30, help="Seconds of school submissions (default 30).")
    p.add_argument("--healthz-seconds", type=float, default=10, help="Seconds of /healthz (default 10).")
    p.add_argument("--sweep-timeout", type=float, default=1800, help="A sweep running longer has failed (seconds).")
    p.add_argument("--build-timeout", type=float, default=3600)
    p.add_argument("--pages-timeout", type=float, default=3600)
    p.add_argument(
        "--database-prefix",
        default="ehe_bench",
        help="Databases are <prefix>_<scale> (default ehe_bench); give your own on a shared server.",
    )
    p.add_argument("--import-rows", type=int, default=100_000, help="Rows of the import (default 100,000).")
    p.add_argument("--import-timeout", type=float, default=1800, help="An import running longer has failed (seconds).")
    p.add_argument("--out", default="docs", help="Where bench/<scale>.json and PERFORMANCE.md go (default docs).")
    p.add_argument("--smoke", action="store_true", help="CI: few requests and seconds, no timing claims.")
    return p


def main(argv: list[str]) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from bench.report import write_report

    opts = parser().parse_args(argv)
    databases.set_prefix(opts.database_prefix)
    if opts.smoke:
        opts.requests, opts.page_budget, opts.http_seconds, opts.healthz_seconds = 5, 10, 3, 2
        opts.import_rows = min(opts.import_rows, 1_000)
    scales = [opts.scale] if opts.scale else [int(s) for s in opts.scales.split(",") if s.strip()]
    # The import hardly depends on the register's size, and 100,000 rows take minutes: once a run,
    # into the largest register.
    opts.import_scale = max(scales)
    out = Path(opts.out)
    (out / "bench").mkdir(parents=True, exist_ok=True)
    run = {
        "command": "python -m bench " + shlex.join(argv),
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "smoke": opts.smoke,
        "scales": {},
    }
    started = time.monotonic()
    for scale in scales:
        _log(f"scale {scale:,}")
        scale_started = time.monotonic()
        result = measure_scale(scale, opts)
        result["seconds"] = round(time.monotonic() - scale_started, 1)
        result["command"] = run["command"]
        result["machine"] = run["machine"]
        result["measured_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
        run["scales"][str(scale)] = result
        (out / "bench" / f"{scale}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    run["seconds"] = round(time.monotonic() - started, 1)
    (out / "bench" / "latest.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
    write_report(out)
    _log(f"done in {run['seconds']:.0f} s: {out / 'PERFORMANCE.md'}")
