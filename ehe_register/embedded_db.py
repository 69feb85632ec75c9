"""The embedded PostgreSQL server used when ``DATABASE_URL`` is unset.

Exactly one process owns the server: ``python -m ehe_register.embedded_db serve`` (run by
``make run`` and ``make test``) starts it under ``var/pgdata``, waits for a signal, and stops it.
Settings never start or stop anything: :func:`database_config` only reads the socket directory
and port that PostgreSQL itself writes to ``postmaster.pid``.
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


def start() -> None:
    """Initialise (first time) and start the server, then make sure the database exists."""
    import pgserver  # imported here: production never loads it

    PGDATA.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(PGDATA, cleanup_mode=None)
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
    parser.add_argument("command", choices=["start", "stop", "serve", "url"])
    args = parser.parse_args(argv)
    if args.command == "start":
        start()
    elif args.command == "stop":
        stop()
    elif args.command == "serve":
        serve()
    else:
        print(database_url(database_config()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
