"""The embedded PostgreSQL server used when ``DATABASE_URL`` is unset.

Exactly one process owns the server: ``python -m ehe_register.embedded_db serve`` (run by
``make run`` and ``make test``) starts it under ``var/pgdata``, waits for a signal, and stops it.
Settings never start or stop anything: :func:`database_config` only reads the socket directory
and port that PostgreSQL itself writes to ``postmaster.pid``.

If the server dies under ``make run`` (killed, out of memory), the ``db`` process of the
Procfile (``watch``) says so plainly in the terminal and starts it again; meanwhile pages show
"Sorry, the service is unavailable" (503) and ``/healthz`` answers 503. The data is kept: a
server killed outright recovers from its write-ahead log when it starts.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
PGDATA = BASE_DIR / "var" / "pgdata"
DATABASE_NAME = "ehe_register"


def _postmaster_lines() -> list[str] | None:
    pid_file = PGDATA / "postmaster.pid"
    if not pid_file.exists():
        return None
    return pid_file.read_text().splitlines()


def database_config() -> dict[str, Any]:
    """Django DATABASES entry for the embedded server, read from its ``postmaster.pid``."""
    lines = _postmaster_lines()
    socket_dir = lines[4].strip() if lines and len(lines) > 4 and lines[4].strip() else str(PGDATA)
    port = lines[3].strip() if lines and len(lines) > 3 and lines[3].strip() else "5432"
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "HOST": socket_dir,
        "PORT": port,
        "CONN_MAX_AGE": 0,
    }


def database_url(config: dict[str, Any]) -> str:
    """A ``DATABASE_URL`` that settings read back as ``config`` (user, password, host, port, name).

    A socket directory cannot go in the host part: django-environ does not unquote it
    (``%2Fvar%2F...`` would be looked up as a host name). It goes in the path instead,
    ``postgres://user@:port//socket/dir/name``, the form django-environ splits into HOST and NAME.
    This is how a subprocess (a Celery worker under test) reaches the same database as its parent,
    embedded or not.
    """
    credentials = quote(config.get("USER") or "", safe="")
    if config.get("PASSWORD"):
        credentials += ":" + quote(config["PASSWORD"], safe="")
    host = str(config.get("HOST") or "")
    port = f":{config['PORT']}" if config.get("PORT") else ""
    name = quote(str(config["NAME"]), safe="")
    if host.startswith("/"):
        return f"postgres://{credentials}@{port}/{quote(host, safe='/')}/{name}"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"postgres://{credentials}@{host}{port}/{name}"


def running() -> bool:
    """Whether the server named in ``postmaster.pid`` is alive (not gone, not a zombie)."""
    lines = _postmaster_lines()
    if not lines or not lines[0].strip().isdigit():
        return False
    import psutil  # a dependency of pgserver

    try:
        return psutil.Process(int(lines[0])).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _forget_a_dead_server() -> None:
    """Remove the lock files a killed server left behind.

    PostgreSQL refuses to start while ``postmaster.pid`` or its socket's ``.lock`` file names a
    process that exists. A killed server's process can linger as a zombie nobody reaps (in a
    container whose first process reaps nothing), which PostgreSQL and pgserver both take for a
    running server. :func:`running` knows a zombie from a server, so files naming a dead or zombie
    process are removed; a live server's never are.
    """
    lines = _postmaster_lines()
    if lines is None or running():
        return
    socket_dir = Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else PGDATA
    for lock in socket_dir.glob(".s.PGSQL.*.lock"):
        lock.unlink(missing_ok=True)
    (PGDATA / "postmaster.pid").unlink(missing_ok=True)


def start(attempts: int = 20) -> None:
    """Initialise (first time) and start the server, then make sure the database exists.

    After a crash the old server's backends can hold its shared memory for a moment, and the new
    one refuses to start until they have gone: so it is tried ``attempts`` times, half a second apart.
    """
    import pgserver  # imported here: production never loads it

    PGDATA.parent.mkdir(parents=True, exist_ok=True)
    _forget_a_dead_server()
    for attempt in range(1, attempts + 1):
        # pgserver keeps one handle per data directory and hands it back without checking that
        # its server still runs (a failed start leaves one too): forget it, so that each attempt,
        # and a second start in one process (the watcher after a second crash), really starts.
        pgserver.PostgresServer._instances.pop(PGDATA.expanduser().resolve(), None)
        try:
            server = pgserver.get_server(PGDATA, cleanup_mode=None)
            break
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError):
            if attempt == attempts:
                raise
            time.sleep(0.5)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608 - a constant
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    print(f"Embedded PostgreSQL ready: socket in {database_config()['HOST']}", flush=True)


def stop() -> None:
    """Stop the server if it is running (fast shutdown: open sessions are ended)."""
    lines = _postmaster_lines()
    if lines is None:
        return
    from pgserver._commands import POSTGRES_BIN_PATH

    user = ["runuser", "-u", "pgserver", "--"] if _running_as_root() else []
    subprocess.run(  # noqa: S603 - fixed arguments: our own pg_ctl and data directory
        [*user, str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(PGDATA), "-m", "fast", "-w", "stop"],
        check=False,
        capture_output=True,
    )
    print("Embedded PostgreSQL stopped.", flush=True)


def _running_as_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0


STOPPED_MESSAGE = (
    "The embedded PostgreSQL server has stopped (was it killed?). Until it is back, pages show "
    "'Sorry, the service is unavailable' and /healthz answers 503. Starting it again..."
)


def restart_if_stopped(write: Any = print) -> bool:
    """Start the server again if it has stopped, saying so; returns whether it had stopped."""
    if running():
        return False
    write(STOPPED_MESSAGE, flush=True)
    start()
    write("Embedded PostgreSQL is running again; nothing that was saved has been lost.", flush=True)
    return True


def watch(interval: float = 2.0) -> None:
    """The Procfile's ``db`` process: keep the embedded server up until interrupted.

    With ``DATABASE_URL`` set there is no embedded server: it only waits (a Procfile process
    that ends would stop the others)."""
    import os

    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    embedded = not os.environ.get("DATABASE_URL")
    while not stopping:
        if embedded:
            restart_if_stopped()
        time.sleep(interval)


def serve() -> None:
    """Start the server and keep it running until this process is interrupted."""
    start()
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stopping:
        time.sleep(0.5)
    stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "serve", "watch", "url"])
    args = parser.parse_args(argv)
    if args.command == "start":
        start()
    elif args.command == "stop":
        stop()
    elif args.command == "serve":
        serve()
    elif args.command == "watch":
        watch()
    else:
        print(database_url(database_config()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
