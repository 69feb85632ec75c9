"""``docs/PERFORMANCE.md`` from the latest JSON of each scale (``docs/bench/<scale>.json``)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

TARGET_SCALE = 1_000_000
LIMIT_MB = 512


def _ok(result: dict[str, Any] | None) -> bool:
    return bool(result) and str(result.get("status", "")).startswith("finished")  # type: ignore[union-attr]


def _secs(result: dict[str, Any] | None) -> str:
    if not result:
        return "-"
    if not _ok(result):
        return f"**{result.get('status')}** ({result.get('wall_seconds', '?')} s, {result.get('peak_rss_mb', '?')} MB)"
    return f"{result['seconds']:.2f} s"


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if _ok(a) and _ok(b) and b["seconds"] > 0:  # type: ignore[index]
        return float(a["seconds"]) / float(b["seconds"])  # type: ignore[index]
    return None


def _growth(small: float | None, large: float | None, n_small: int, n_large: int) -> str:
    if not small or not large or small <= 0 or large <= 0:
        return "-"
    exponent = math.log(large / small) / math.log(n_large / n_small)
    return f"×{large / small:.1f} (∝ n^{exponent:.2f})"


def _sweep_table(r: dict[str, Any]) -> list[str]:
    s = r.get("sweeps", {})
    lines = [
        "| sweep | product | hand-written SQL | product / SQL | statements (product / SQL) | peak RSS MB (product / SQL) | done (product) | done (SQL) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in ("first", "steady", "full re-check"):
        if kind not in s:
            continue
        p, q = s.get(kind, {}).get("product"), s.get(kind, {}).get("reference")
        ratio = _ratio(p, q)
        same = f" (the {q['same_as']} row's run)" if q and q.get("same_as") else ""
        lines.append(
            f"| {kind} | {_secs(p)} | {_secs(q)}{same} | {f'{ratio:.1f}×' if ratio else '-'} "
            f"| {(p or {}).get('statements', '-')} / {(q or {}).get('statements', '-')} "
            f"| {(p or {}).get('peak_rss_mb', '-')} / {(q or {}).get('peak_rss_mb', '-')} "
            f"| {_done((p or {}).get('done'))} | {_done((q or {}).get('done'))} |"
        )
    return lines


def _done(done: dict[str, int] | None) -> str:
    if not done:
        return "-"
    return ", ".join(f"{k} {v:,}" for k, v in done.items() if v) or "nothing"


def _pages_table(r: dict[str, Any]) -> list[str]:
    pages = r.get("pages", {})
    if not pages or ("status" in pages and not _ok(pages) and "largest" not in pages):
        return [f"Pages: {pages.get('status', 'not measured')}"]
    lines = []
    for label in ("largest", "artificial"):
        la = pages.get(label)
        if not la:
            continue
        lines += [
            f"*{la['la']}*, {la['open_cases']:,} open cases:",
            "",
            "| page | p50 ms | p95 ms | queries | requests | note |",
            "|---|---|---|---|---|---|",
        ]
        for name, m in la["pages"].items():
            bad = "" if m["status"] == [200] else f"status {m['status']} "
            lines.append(
                f"| {name} | {m['p50_ms']} | {m['p95_ms']} | {m['queries']} | {m['requests']} | {bad}{m.get('note', '')} |"
            )
        lines.append("")
    return lines


def _http_lines(r: dict[str, Any]) -> list[str]:
    h = r.get("http", {})
    if "flows" not in h:
        return [f"Submissions: {h.get('status', 'not measured')}"]
    return [
        "| what | figure |",
        "|---|---|",
        f"| sending POST p50 / p95 | {h['sending_post_p50_ms']} ms / {h['sending_post_p95_ms']} ms |",
        f"| whole flows a second ({h['clients']} clients, {h['flows']['seconds']} s) | {h['flows']['per_second']} "
        f"({h['flows']['ok']} ok, {h['flows']['failed']} failed) |",
        f"| `/healthz` a second ({h['healthz']['seconds']} s) | {h['healthz']['per_second']} |",
        f"| flows / healthz | {h['flows_to_healthz']} |",
        f"| server | gunicorn, {h['workers']} workers; rate limit {h['rate_limit']} |",
    ]


def _worst_p95(r: dict[str, Any], label: str) -> float | None:
    la = (r.get("pages") or {}).get(label)
    if not la:
        return None
    return max(m["p95_ms"] for m in la["pages"].values())


def _targets(results: dict[int, dict[str, Any]]) -> list[str]:
    top = results.get(TARGET_SCALE)
    nearest = max(results) if results else None
    lines = ["| target | status |", "|---|---|"]

    def row(target: str, verdict: str) -> None:
        lines.append(f"| {target} | {verdict} |")

    def not_measured(hint: str) -> str:
        return f"**not measured at 1M** (not run yet); at {nearest:,}: {hint}" if nearest else "not measured"

    src = top or (results[nearest] if nearest else {})
    s = src.get("sweeps", {})
    first_p, first_q = s.get("first", {}).get("product"), s.get("first", {}).get("reference")
    steady_p, steady_q = s.get("steady", {}).get("product"), s.get("steady", {}).get("reference")
    r1, r2 = _ratio(first_p, first_q), _ratio(steady_p, steady_q)
    met1 = _ok(first_p) and r1 is not None and r1 <= 2 and first_p["peak_rss_mb"] <= LIMIT_MB  # type: ignore[index]
    hint1 = f"{_secs(first_p)}, {f'{r1:.1f}' if r1 else '?'}× the SQL, {(first_p or {}).get('peak_rss_mb')} MB"
    row(
        "1M: first sweep finishes, ≤ 2× the hand-written SQL, < 512 MB",
        ("**met**" if met1 else "**not met**") + f": {hint1}"
        if top
        else not_measured(hint1 + (" (would be met)" if met1 else " (not met even there)")),
    )
    met2 = _ok(steady_p) and r2 is not None and r2 <= 2 and steady_p["seconds"] <= 1.0  # type: ignore[index]
    hint2 = f"{_secs(steady_p)}, {f'{r2:.1f}' if r2 else '?'}× the SQL"
    row(
        "1M: steady sweep ≤ 1.0 s and ≤ 2× the SQL",
        ("**met**" if met2 else "**not met**") + f": {hint2}"
        if top
        else not_measured(hint2 + (" (would be met)" if met2 else " (not met even there)")),
    )
    largest, artificial = _worst_p95(src, "largest"), _worst_p95(src, "artificial")
    met3 = largest is not None and largest <= 150
    row(
        "1M: pages p95 ≤ 150 ms, largest LA",
        ("**met**" if met3 else "**not met**") + f": worst p95 {largest} ms"
        if top
        else not_measured(f"worst p95 {largest} ms"),
    )
    met4 = artificial is not None and artificial <= 300
    art_cases = (src.get("pages") or {}).get("artificial", {}).get("open_cases")
    row(
        "1M: pages p95 ≤ 300 ms, LA of 100,000 cases",
        ("**met**" if met4 else "**not met**") + f": worst p95 {artificial} ms"
        if top
        else not_measured(f"worst p95 {artificial} ms with {art_cases} open cases"),
    )
    h = src.get("http", {})
    if "flows" in h:
        met5 = h["sending_post_p95_ms"] <= 300
        met6 = (h["flows_to_healthz"] or 0) >= 0.25
        scale_note = "" if top else f" (measured at {nearest:,})"
        row(
            "Submissions: sending POST p95 ≤ 300 ms, 4 clients",
            f"**{'met' if met5 else 'not met'}**: {h['sending_post_p95_ms']} ms{scale_note}",
        )
        row(
            "Submissions: flows ≥ ¼ of /healthz's rate",
            f"**{'met' if met6 else 'not met'}**: {h['flows']['per_second']} against {h['healthz']['per_second']} a second{scale_note}",
        )
    else:
        row("Submissions", f"not measured: {h.get('status')}")
    imp = _import_result(results)
    if imp.get("status") == "finished":
        met7 = imp["rows"] >= 100_000 and imp["rows_per_second"] >= 2_000 and imp["peak_rss_mb"] <= LIMIT_MB
        row(
            "Import: ≥ 2,000 rows a second, ≤ 512 MB at 100,000 rows",
            f"**{'met' if met7 else 'not met'}**: {_import_summary(imp)}",
        )
    else:
        row(
            "Import: ≥ 2,000 rows a second, ≤ 512 MB at 100,000 rows",
            f"**not met**: {imp.get('status', 'not measured')}",
        )
    return lines


def _import_result(results: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The import measured with the most rows (it does not depend much on the scale's data)."""
    found = [r["import"] for r in results.values() if (r.get("import") or {}).get("status") == "finished"]
    if found:
        return max(found, key=lambda imp: (imp["rows"], imp.get("children_in_la_before", 0)))
    nearest = results[max(results)] if results else {}
    return nearest.get("import") or {}


def _import_summary(imp: dict[str, Any]) -> str:
    return (
        f"{imp['rows']:,} rows by `import_file` in {imp['seconds']} s, {imp['rows_per_second']:,} rows a second "
        f"(check {imp['preview_rows_per_second']:,}/s, import {imp['import_rows_per_second']:,}/s), "
        f"{imp['peak_rss_mb']} MB; `COPY` of the same rows {imp['copy_rows_per_second']:,}/s, "
        f"{imp['copy_peak_rss_mb']} MB"
    )


def _import_lines(r: dict[str, Any]) -> list[str]:
    imp = r.get("import") or {}
    if imp.get("status") != "finished":
        return [str(imp.get("status", "not measured"))]
    return [
        f"Into LA {imp['local_authority']} ({imp['children_in_la_before']:,} children before), a {imp['file_mb']} MB CSV "
        "of new children (`bench/import_rows.py`), as an officer with `manage.py import_file notifications`:",
        "",
        "| step | seconds | rows a second | peak RSS |",
        "|---|---|---|---|",
        f"| `import_file`: check every row (the preview) | {imp['preview_seconds']} | {imp['preview_rows_per_second']:,} | |",
        f"| `import_file`: check again, match, write, risk check, rules | {imp['import_seconds']} "
        f"| {imp['import_rows_per_second']:,} | |",
        f"| `import_file`, the whole command | {imp['seconds']} | {imp['rows_per_second']:,} | {imp['peak_rss_mb']} MB |",
        f"| PostgreSQL `COPY` of the same file into a scratch table | {imp['copy_seconds']} "
        f"| {imp['copy_rows_per_second']:,} | {imp['copy_peak_rss_mb']} MB |",
        "",
        f"Outcomes: {', '.join(f'{n:,} {k}' for k, n in imp['outcomes'].items())}.",
    ]


def write_report(out: Path) -> None:
    results: dict[int, dict[str, Any]] = {}
    for path in sorted((out / "bench").glob("*.json")):
        if path.stem.isdigit():
            results[int(path.stem)] = json.loads(path.read_text())
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (`python -m bench`, the package `bench/`) from `docs/bench/<scale>.json`; do not edit",
        "by hand. Each scale's section is that scale's latest run. Issue 12 sets the targets.",
        "",
        "## Targets",
        "",
        *_targets(results),
        "",
    ]
    scales = sorted(results)
    if len(scales) >= 2:
        lines += [
            "## How the costs grow with scale",
            "",
            "| cost | " + " | ".join(f"{a:,} → {b:,}" for a, b in itertools.pairwise(scales)) + " |",
            "|---|" + "---|" * (len(scales) - 1),
        ]

        def get(r: dict[str, Any], *path: str) -> float | None:
            node: Any = r
            for key in path:
                node = (node or {}).get(key)
            return node if isinstance(node, int | float) else None

        costs = {
            "build (seconds)": ("database", "build_seconds"),
            "first sweep, product (s)": ("sweeps", "first", "product", "seconds"),
            "first sweep, SQL (s)": ("sweeps", "first", "reference", "seconds"),
            "steady sweep, product (s)": ("sweeps", "steady", "product", "seconds"),
            "steady sweep, SQL (s)": ("sweeps", "steady", "reference", "seconds"),
            "first sweep peak RSS (MB)": ("sweeps", "first", "product", "peak_rss_mb"),
            "first sweep statements": ("sweeps", "first", "product", "statements"),
        }
        for label, keys in costs.items():
            cells = [
                _growth(get(results[a], *keys), get(results[b], *keys), a, b) for a, b in itertools.pairwise(scales)
            ]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        for la in ("largest", "artificial"):
            cells = [
                _growth(_worst_p95(results[a], la), _worst_p95(results[b], la), a, b)
                for a, b in itertools.pairwise(scales)
            ]
            lines.append(f"| worst page p95, {la} LA | " + " | ".join(cells) + " |")
        lines += ["", "n is the number of children; ∝ n^1 is linear growth, n^0 flat.", ""]
    for scale in scales:
        r = results[scale]
        m, db = r.get("machine", {}), r.get("database", {})
        lines += [
            f"## {scale:,} children",
            "",
            f"Measured {r.get('measured_at')} with `{r.get('command')}` in {r.get('seconds')} s; {m.get('cores')} cores,",
            f"{m.get('memory_gb')} GB, {m.get('cpu')}; load average at the start {m.get('load_average_at_start')} (a shared",
            f"machine); Python {m.get('python')}, PostgreSQL {m.get('postgresql')} ({m.get('postgresql_settings')}),",
            f"Django {m.get('django')}.",
            "",
            f"Data: {'reused' if db.get('reused') else 'built'} `{db.get('name', f'ehe_bench_{scale}')}` (built {db.get('built_at')}: migrations {db.get('migrate_seconds')} s,",
            f"data {db.get('build_seconds')} s, {db.get('size_mb')} MB); largest LA {db.get('largest_la')} with {db.get('largest_share', 0) * 100:.1f}% of",
            f"the children; artificial LA {db.get('artificial_la')} with {db.get('artificial_cases', 0):,} cases; sweeps as of {db.get('as_of')}.",
            "Rows: " + ", ".join(f"{k.split('_', 1)[1]} {v:,}" for k, v in (db.get("rows") or {}).items()) + ".",
            "",
            "### Sweep",
            "",
            *_sweep_table(r),
            "",
            "Statements are those the sweep's process sent (a full sweep's FETCH from its held cursor counted too, one per batch); peak RSS is that process's (`VmHWM`), not the server's.",
            "",
            "### Pages (Django test Client, in process)",
            "",
            *([r["pages_note"], ""] if r.get("pages_note") else []),
            *_pages_table(r),
            "### School submissions over HTTP",
            "",
            *_http_lines(r),
            "",
            f"### Bulk import of {(r.get('import') or {}).get('rows', 100_000):,} rows",
            "",
            *_import_lines(r),
            "",
        ]
    lines += [
        "## How it is measured",
        "",
        "- Data: `bench/builder.py` (set-based SQL; every state, 153 LAs sized Zipf-like, the largest about 3%).",
        "  One database per scale, reused until the migrations or the builder change (`--rebuild` forces it).",
        "- Sweeps: `workflows.sweeps.sweep_run` as it is, against `bench/reference_sweep.py` (the same rules as",
        "  hand-written SQL, telling the named owner only, as DESIGN section 5 says), each on its own",
        "  `CREATE DATABASE ... TEMPLATE` copy, at the same `as_of`. The product's sweeps run as the beat runs",
        "  them: the first (after the load there is no mark, so every rule is checked against every case), the",
        "  steady one 15 minutes later (the periodic sweep, incremental: only what came due since the last one),",
        "  and a full re-check 15 minutes after that (the nightly sweep). The SQL checks everything every time,",
        "  so the steady row compares the periodic sweep with a full check in SQL; the full re-check row is the",
        "  like-for-like comparison, against that same SQL run (run once: it would do the same work again).",
        "  Each sweep runs in its own process with a timeout (`--sweep-timeout`).",
        "- Pages: 50 requests each (fewer when a page's 60 s budget runs out, as noted), after two warm-ups;",
        "  the query count is one request's. Officer and manager of the largest LA and of the artificial LA.",
        "- Submissions: gunicorn with two workers on a loopback port; four threads each repeat a school",
        "  user's whole flow; the submission rate limit is off for the run (`bench/settings.py`).",
        "- Import: `bench/import_rows.py` writes the file (every row a new child); `COPY` loads it into a",
        "  temporary table first, then `import_file` runs in the same process (peak RSS: after `COPY`, then at the end).",
        "- Client and server share the machine's cores, so absolute figures are pessimistic.",
        "",
    ]
    (out / "PERFORMANCE.md").write_text("\n".join(lines))
