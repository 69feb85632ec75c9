"""The measurements. Each runs in its own process against one benchmark database (see ``steps``),
so that its peak memory is its own and a sweep that runs too long can be stopped.

- ``sweep_measure``: the product's sweep (``workflows.sweeps.sweep_run``, as ``manage.py
  run_escalations`` runs it) or the hand-written SQL of ``bench.reference_sweep``; seconds, SQL
  statements sent, what it did, and the process's peak RSS.
- ``pages_measure``: every queue page, the case page and the manager's dashboard through Django's
  test Client, signed in as an officer and a manager of the largest LA and of the artificial LA:
  p50/p95 over ``requests`` requests (fewer if the page's time budget runs out: the result says
  so) and the queries one request makes (``CaptureQueriesContext``).
- ``http_measure``: gunicorn (two workers) on a loopback port; four client threads each repeating
  a school user's whole flow (the form, its POST, check your answers, the sending POST, the
  confirmation) for ``seconds``, against ``/healthz`` on the same server.
- ``import_measure``: ``manage.py import_file`` on a generated file of off-roll notifications
  against PostgreSQL ``COPY`` of the same file into a scratch table; rows a second and peak RSS
  of each.
"""

from __future__ import annotations

import http.client
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import connection


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: kilobytes


# --- Sweeps -------------------------------------------------------------------------------------


def sweep_measure(*, impl: str, as_of: datetime, mode: str = "periodic") -> dict[str, Any]:
    """Run one sweep at ``as_of`` and say how long it took and how many statements it sent.

    ``mode`` (the product's sweep only): ``periodic`` as the beat runs it every 15 minutes
    (incremental: what came due since the last sweep; in full when there is none, as after the
    load), ``full`` as the nightly sweep runs it (every rule against every case). The hand-written
    SQL always checks every rule against every case."""
    statements = 0

    def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    connection.ensure_connection()
    started = time.monotonic()
    with connection.execute_wrapper(count):
        if impl == "product":
            from workflows.sweeps import sweep_run

            counts = sweep_run(as_of=as_of, incremental=mode == "periodic")
            done = {what: sum(c[what] for c in counts.values()) for what in ("raised", "resolved", "climbed", "moved")}
            by_rule = {rule: {k: v for k, v in c.items() if v} for rule, c in counts.items() if any(c.values())}
        elif impl == "reference":
            from bench.reference_sweep import reference_sweep_run

            done = reference_sweep_run(as_of=as_of)
            by_rule = {}
        else:
            raise ValueError(impl)
    seconds = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM notifications_message")
        messages = cursor.fetchone()[0]  # type: ignore[index]
    return {
        "status": "finished",
        "seconds": round(seconds, 3),
        "statements": statements,
        "done": done,
        "by_rule": by_rule,
        "messages_in_outbox": messages,
        "peak_rss_mb": peak_rss_mb(),
    }


# --- Pages --------------------------------------------------------------------------------------


def _users(la_id: int) -> tuple[Any, Any]:
    """The LA's EHE manager and its busiest officer."""
    from django.db.models import Count, Q

    from ehe_register.models import User
    from ehe_register.roles import Role

    manager = User.objects.filter(local_authority_id=la_id, groups__name=Role.EHE_MANAGER).order_by("pk").first()
    officer = (
        User.objects.filter(local_authority_id=la_id, groups__name=Role.EHE_OFFICER)
        .annotate(n=Count("assigned_episodes", filter=~Q(assigned_episodes__state="closed")))
        .order_by("-n", "pk")
        .first()
    )
    return manager, officer


def _time_page(client: Any, urls: list[str], requests: int, budget: float) -> dict[str, Any]:
    for url in urls[:2]:  # warm up
        client.get(url)
    # Counted by an execute wrapper rather than CaptureQueriesContext: the test Client closes the
    # connection at the end of each request (CONN_MAX_AGE 0), which empties the debug log.
    queries = 0

    def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(urls[0])
    timings: list[float] = []
    statuses: set[int] = {response.status_code}
    started = time.monotonic()
    for i in range(requests):
        t0 = time.perf_counter()
        response = client.get(urls[i % len(urls)])
        timings.append((time.perf_counter() - t0) * 1000)
        statuses.add(response.status_code)
        if time.monotonic() - started > budget and len(timings) >= 5:
            break
    result = {
        "requests": len(timings),
        "p50_ms": round(percentile(timings, 50), 1),
        "p95_ms": round(percentile(timings, 95), 1),
        "queries": queries,
        "status": sorted(statuses),
    }
    if len(timings) < requests:
        result["note"] = f"time budget of {budget:.0f} s ran out after {len(timings)} requests"
    return result


def pages_measure(*, requests: int = 50, budget: float = 60.0) -> dict[str, Any]:
    from django.test import Client

    from bench.builder import ARTIFICIAL_DFE_CODE
    from ehe_register.models import LocalAuthority
    from workflows.models import Episode
    from workflows.selectors import queues_for

    artificial = LocalAuthority.objects.get(dfe_code=ARTIFICIAL_DFE_CODE)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT local_authority_id FROM workflows_episode WHERE local_authority_id <> %s"
            " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
            [artificial.pk],
        )
        largest_id = cursor.fetchone()[0]  # type: ignore[index]
    results: dict[str, Any] = {}
    backend = "django.contrib.auth.backends.ModelBackend"
    for label, la in (("largest", LocalAuthority.objects.get(pk=largest_id)), ("artificial", artificial)):
        manager, officer = _users(la.pk)
        cases = Episode.objects.filter(local_authority=la).exclude(state="closed").count()
        pages: dict[str, Any] = {}
        manager_client, officer_client = Client(), Client()
        manager_client.force_login(manager, backend=backend)
        officer_client.force_login(officer, backend=backend)
        pages["dashboard (manager home)"] = _time_page(manager_client, ["/"], requests, budget)
        for queue in queues_for(manager):
            pages[f"queue {queue.slug} (manager)"] = _time_page(
                manager_client, [f"/cases/queues/{queue.slug}/"], requests, budget
            )
        pages["queue mine (officer)"] = _time_page(officer_client, ["/cases/queues/mine/"], requests, budget)
        pages["officer home"] = _time_page(officer_client, ["/"], requests, budget)
        case_ids = list(
            Episode.objects.filter(local_authority=la)
            .exclude(state="closed")
            .order_by("pk")
            .values_list("pk", flat=True)[:: max(1, cases // 50)][:50]
        )
        pages["case page (officer)"] = _time_page(
            officer_client, [f"/cases/{pk}/" for pk in case_ids], requests, budget
        )
        results[label] = {"la": f"{la.name} ({la.dfe_code})", "open_cases": cases, "pages": pages}
    return results


# --- Submissions over HTTP ----------------------------------------------------------------------

FIRST = ["Ada", "Zoë", "Łukasz", "Siobhán", "محمد", "Мария", "美咲", "Oisín", "Nguyễn", "Chloé"]
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Browser:
    """A school user's browser: cookies kept by hand, one connection per request (gunicorn's sync
    workers close each one)."""

    def __init__(self, port: int, cookies: dict[str, str]) -> None:
        self.port = port
        self.cookies = dict(cookies)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "Host": "127.0.0.1"}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key.strip()] = rest.split(";", 1)[0]
            return response.status, response.getheader("Location") or "", text
        finally:
            conn.close()


def _form(n: int, la_id: int, today: Any) -> dict[str, str]:
    dob = today - timedelta(days=3900 + n % 700)
    notice = today - timedelta(days=1)

    def day(name: str, d: Any) -> dict[str, str]:
        return {f"{name}_day": str(d.day), f"{name}_month": str(d.month), f"{name}_year": str(d.year)}

    return {
        "legal_first_name": FIRST[n % len(FIRST)],
        "legal_middle_names": "",
        "legal_last_name": f"Benchmark-{n}",
        "preferred_first_name": "",
        **day("date_of_birth", dob),
        "sex": "F" if n % 2 else "M",
        "upn": "",
        "year_group": "6",
        "address_line_1": f"{1 + n % 200} High Street",
        "address_line_2": "",
        "address_town": "Maidstone",
        "postcode": "ME14 1XX",
        "residence_la": str(la_id),
        "parent_1_first_name": "Anne",
        "parent_1_last_name": f"Benchmark-{n}",
        "parent_1_relationship": "mother",
        "parent_1_parental_responsibility": "yes",
        "parent_1_lives_with_child": "yes",
        "parent_1_same_address": "yes",
        "parent_1_emergency_phone": "07700 900 982",
        "parent_1_email": "",
        **day("notice_received_on", notice),
        "removal_status": "removed",
        **day("removed_from_roll_on", today),
        "ground_confirmed": "on",
        "reason_code": "philosophical",
        "reason_detail": "",
        "sen_status": "none",
        "social_care_status": "none",
        "social_worker_email": "",
        "special_school_placed_by_la": "no",
        "attendance_order_in_force": "no",
        "safeguarding_concerns": "no",
    }


def _flow(browser: _Browser, n: int, la_id: int, today: Any) -> tuple[bool, float]:
    """One whole submission; returns (it worked, milliseconds of the sending POST)."""
    status, _, page = browser.request("GET", "/school/notify/")
    token = TOKEN.search(page)
    if status != 200 or token is None:
        return False, 0.0
    status, location, _ = browser.request(
        "POST", "/school/notify/", {"csrfmiddlewaretoken": token.group(1), **_form(n, la_id, today)}
    )
    if status != 302 or "check-your-answers" not in location:
        return False, 0.0
    status, _, page = browser.request("GET", "/school/notify/check-your-answers/")
    token = TOKEN.search(page)
    if status != 200 or token is None:
        return False, 0.0
    t0 = time.perf_counter()
    status, location, _ = browser.request(
        "POST", "/school/notify/check-your-answers/", {"csrfmiddlewaretoken": token.group(1)}
    )
    sending_ms = (time.perf_counter() - t0) * 1000
    if status != 302 or "confirmation" not in location:
        return False, sending_ms
    status, _, _ = browser.request("GET", location)
    return status == 200, sending_ms


def _hammer(seconds: float, clients: int, work: Callable[[int, int], tuple[bool, float]]) -> dict[str, Any]:
    ok = failed = 0
    timings: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(client: int) -> None:
        nonlocal ok, failed
        n = 0
        while time.monotonic() < deadline:
            n += 1
            try:
                worked, ms = work(client, n)
            except OSError:
                worked, ms = False, 0.0
            with lock:
                ok += worked
                failed += not worked
                if worked and ms:
                    timings.append(ms)

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {
        "ok": ok,
        "failed": failed,
        "seconds": round(elapsed, 1),
        "per_second": round(ok / elapsed, 2),
        "timings": timings,
    }


def _sessions(users: list[Any]) -> list[dict[str, str]]:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    cookies = []
    for user in users:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        cookies.append({"sessionid": store.session_key or ""})
    return cookies


def http_measure(
    *, seconds: float = 30.0, healthz_seconds: float = 10.0, clients: int = 4, workers: int = 2
) -> dict[str, Any]:
    from django.utils import timezone

    from ehe_register.models import User

    users = list(User.objects.filter(username__startswith="bench-school-").order_by("pk")[:clients])
    if len(users) < clients:
        raise RuntimeError("the benchmark database has too few school users")
    la_id = users[0].schools.get().local_authority_id
    cookies = _sessions(users)
    connection.close()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "ehe_register.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--timeout", "120", "--log-level", "warning"],
        env={**os.environ, "EHE_NOTIFICATIONS_PER_HOUR": "0"},  # the rate limit is off for the run
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if _Browser(port, {}).request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.5)
        today = timezone.localdate()
        healthz = _hammer(
            healthz_seconds, clients, lambda c, n: (_Browser(port, {}).request("GET", "/healthz")[0] == 200, 0.0)
        )
        browsers = [_Browser(port, cookie) for cookie in cookies]
        flows = _hammer(seconds, clients, lambda c, n: _flow(browsers[c], c * 1_000_000 + n, la_id, today))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    sending = flows.pop("timings")
    healthz.pop("timings")
    return {
        "workers": workers,
        "clients": clients,
        "rate_limit": "off (EHE_NOTIFICATIONS_PER_HOUR=0 for the server under test)",
        "healthz": healthz,
        "flows": flows,
        "sending_post_p50_ms": round(percentile(sending, 50), 1),
        "sending_post_p95_ms": round(percentile(sending, 95), 1),
        "flows_to_healthz": round(flows["per_second"] / healthz["per_second"], 4) if healthz["per_second"] else None,
    }


# --- Bulk import (issue 11) ---------------------------------------------------------------------


def import_measure(*, rows: int = 100_000) -> dict[str, Any]:
    """Bulk import of ``rows`` generated rows (``bench.import_rows``: each a new child, names and
    birth dates spread as the builder's) through ``manage.py import_file notifications`` as an
    officer of the largest real LA, against PostgreSQL ``COPY`` of the same file into a scratch table.

    ``COPY`` runs first, so the process's peak RSS after it is the copy's, and the peak at the end
    is the import's (the step's process does nothing else). The import is the command as a script
    runs it: the preview (every row read and checked with the form's validators, set-based
    matching) and then the import (every row checked again, matched, written in chunks, the risk
    check and the rules), each timed on its own; ``rows_per_second`` is the whole command's."""
    import tempfile
    from io import StringIO
    from pathlib import Path

    from django.core.management import call_command
    from django.db.models import Count
    from django.test import override_settings

    from bench.builder import ARTIFICIAL_DFE_CODE
    from bench.import_rows import write_csv
    from ehe_register.models import LocalAuthority, School, User
    from ehe_register.roles import Role

    la = (
        LocalAuthority.objects.filter(uses_service=True)
        .exclude(dfe_code=ARTIFICIAL_DFE_CODE)
        .annotate(n=Count("children"))
        .order_by("-n", "pk")
        .first()
    )
    if la is None:
        return {"status": "failed: no LA uses the service", "rows": rows}
    officer = (
        User.objects.filter(local_authority=la, groups__name=Role.EHE_OFFICER, is_active=True).order_by("pk").first()
    )
    school = School.objects.filter(local_authority=la).exclude(urn="").order_by("pk").first()
    if officer is None or school is None:
        return {"status": f"failed: LA {la.dfe_code} has no officer or no school", "rows": rows}
    with tempfile.TemporaryDirectory(prefix="ehe-bench-import-") as folder:
        path = write_csv(Path(folder) / f"notifications-{rows}.csv", school.urn, rows, start=0)
        size_mb = round(path.stat().st_size / 1024 / 1024, 1)

        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bench_import_copy (" + ", ".join(f'"{h}" text' for h in _headings()) + ")"
            )
            with (
                path.open("rb") as source,
                cursor.cursor.copy(  # type: ignore[attr-defined]
                    "COPY bench_import_copy FROM STDIN WITH (FORMAT csv, HEADER true)"
                ) as copy,
            ):
                while block := source.read(1 << 20):
                    copy.write(block)
            cursor.execute("SELECT count(*) FROM bench_import_copy")
            copied = cursor.fetchone()[0]
            cursor.execute("DROP TABLE bench_import_copy")
        copy_seconds = time.monotonic() - started
        copy_rss = peak_rss_mb()

        out = StringIO()
        started = time.monotonic()
        with override_settings(EHE_IMPORT_DIR=str(Path(folder) / "uploads")):
            call_command("import_file", "notifications", str(path), "--as", officer.username, stdout=out)
        seconds = time.monotonic() - started
    text = out.getvalue()
    preview = re.search(r"Preview took ([\d.]+)s", text)
    imported = re.search(
        r"Imported (\d+) rows .*?: (\d+) new, (\d+) updated, (\d+) unchanged, (\d+) likely matches, (\d+) errors", text
    )
    run = re.search(r"Import took ([\d.]+)s", text)
    if not (preview and imported and run):
        return {"status": "failed: import_file did not finish", "rows": rows, "output": text[-2000:]}
    preview_s, run_s = float(preview.group(1)), float(run.group(1))
    return {
        "status": "finished",
        "rows": rows,
        "file_mb": size_mb,
        "local_authority": la.dfe_code,
        "children_in_la_before": la.n,  # type: ignore[attr-defined]
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows / max(seconds, 0.001)),
        "preview_seconds": preview_s,
        "preview_rows_per_second": round(rows / max(preview_s, 0.1)),  # the command prints tenths
        "import_seconds": run_s,
        "import_rows_per_second": round(rows / max(run_s, 0.1)),
        "outcomes": dict(
            zip(("new", "updated", "unchanged", "likely", "errors"), map(int, imported.groups()[1:]), strict=True)
        ),
        "copy_rows": copied,
        "copy_seconds": round(copy_seconds, 2),
        "copy_rows_per_second": round(copied / max(copy_seconds, 0.001)),
        "copy_peak_rss_mb": copy_rss,
        "peak_rss_mb": peak_rss_mb(),
    }


def _headings() -> list[str]:
    from imports.formats.notifications import COLUMNS

    return [c.name for c in COLUMNS]
