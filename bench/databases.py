"""The benchmark's databases: one per scale (``ehe_bench_<scale>``), on the server the product uses.

A scale's database is built once and reused while its schema is unchanged. Its fingerprint (the
migration files on disk and the builder's version) is kept in the database's comment; a run whose
fingerprint differs, or ``--rebuild``, drops and builds it again, except where the only difference
is migrations added since the build: those are applied to it, as a deployment would apply them
(``only_new_migrations``; a million children take a quarter of an hour to build). Measurements that write (the
sweeps, the submissions) run on throwaway copies made with ``CREATE DATABASE ... TEMPLATE``, so
the product's sweep and the hand-written SQL start from exactly the same state.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
BUILDER_VERSION = "3"  # bump when the builder's output changes, so old databases are rebuilt
MIGRATION_DIRS = ("ehe_register", "workflows", "imports", "notifications")


def server_params() -> dict[str, Any]:
    """Host, port and user of the product's database server (from Django's settings)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    return {"host": db.get("HOST") or None, "port": db.get("PORT") or None, "user": db.get("USER") or None}


PREFIX = "ehe_bench"  # ``--database-prefix``: helpers sharing one server each build their own


def set_prefix(prefix: str) -> None:
    global PREFIX
    if not prefix.startswith("ehe_bench"):
        raise SystemExit(f"--database-prefix {prefix}: a benchmark database's name starts with ehe_bench")
    PREFIX = prefix


def database_name(scale: int, suffix: str = "") -> str:
    return f"{PREFIX}_{scale}{'_' + suffix if suffix else ''}"


@contextmanager
def maintenance() -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the server's ``postgres`` database (CREATE / DROP DATABASE)."""
    params = {k: v for k, v in server_params().items() if v is not None}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        yield conn


def exists(name: str) -> bool:
    with maintenance() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def _terminate(conn: psycopg.Connection[Any], name: str) -> None:
    """End the server sessions still attached to one of the benchmark's own databases (a sweep
    killed on its timeout leaves its backend running until it next talks to the client)."""
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        [name],
    )


def drop_connections(name: str) -> None:
    with maintenance() as conn:
        _terminate(conn, name)


def drop(name: str) -> None:
    if not name.startswith("ehe_bench_"):
        raise ValueError(f"refusing to drop {name}: not a benchmark database")
    with maintenance() as conn:
        _terminate(conn, name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def create(name: str, template: str | None = None) -> None:
    with maintenance() as conn:
        if template:
            _terminate(conn, template)
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def copy(template: str, name: str) -> None:
    drop(name)
    create(name, template=template)


def migration_digests() -> dict[str, str]:
    """Every migration file on disk, by path: a digest of its content."""
    return {
        str(path.relative_to(ROOT)): hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        for app in MIGRATION_DIRS
        for path in sorted((ROOT / app / "migrations").glob("*.py"))
    }


def fingerprint() -> str:
    """The schema the builder writes into: every migration file's name and content, and the
    builder's own version."""
    digest = hashlib.sha256(BUILDER_VERSION.encode())
    for app in MIGRATION_DIRS:
        for path in sorted((ROOT / app / "migrations").glob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def only_new_migrations(info: dict[str, Any]) -> list[str]:
    """The migrations added since a database was built, when that is the only difference (the
    same builder, every migration it was built with still there unchanged): such a database is
    brought up to date by migrating it, as a deployment would be, not rebuilt. Empty otherwise."""
    built_with = info.get("migrations")
    if not isinstance(built_with, dict) or info.get("builder_version") != BUILDER_VERSION:
        return []
    now = migration_digests()
    if any(now.get(path) != digest for path, digest in built_with.items()):
        return []
    return sorted(set(now) - set(built_with))


def comment(name: str) -> str:
    with maintenance() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
    return (row[0] if row else None) or ""


def set_comment(name: str, text: str) -> None:
    with maintenance() as conn:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(text)))


def size(name: str) -> int:
    with maintenance() as conn:
        row = conn.execute("SELECT pg_database_size(%s)", [name]).fetchone()
    return int(row[0]) if row else 0


def child_env(database: str) -> dict[str, str]:
    """The environment of a step run against ``database`` in its own process."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    env["BENCH_DATABASE_NAME"] = database
    return env


def migrate(database: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        check=True,
        env=child_env(database),
        cwd=ROOT,
    )


def analyze(name: str) -> None:
    """Fresh planner statistics for the whole database (after migrating it forward)."""
    params = server_params()
    with psycopg.connect(dbname=name, autocommit=True, **{k: v for k, v in params.items() if v is not None}) as conn:
        conn.execute("ANALYZE")
