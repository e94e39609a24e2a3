"""The owner's way into PostgreSQL outside the ORM: connections and client programs.

Dumps, restores and catalog reads run with the owner's credentials (the
``owner`` alias), never the runtime roles. Client programs (``pg_dump``,
``pg_restore``, ``psql``) must be at least as new as the server; they are
looked for in the embedded server's folder first, then on ``PATH``, then in
Debian's ``/usr/lib/postgresql/*/bin``.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.translation import gettext as _
from psycopg import sql

from qiro import migration_state
from qiro.tenant_context import OWNER_ALIAS

CONNINFO_KEYS = ("host", "port", "user", "password", "dbname")


class ToolNotFound(RuntimeError):
    """No client program new enough for the server."""


def owner_params(dbname: str | None = None) -> dict[str, str]:
    """The owner's connection parameters (optionally for another database on the server)."""
    params = connections[OWNER_ALIAS].get_connection_params()
    found = {k: str(params[k]) for k in CONNINFO_KEYS if params.get(k)}
    if dbname:
        found["dbname"] = dbname
    return found


def owner_on_public() -> BaseDatabaseWrapper:
    """Django's owner connection, its schema set back to ``public``.

    The one way our code resets the owner's django-tenants schema: after
    work in a company schema, and before work that must start from public.
    """
    connection = connections[OWNER_ALIAS]
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return connection


def connect(dbname: str | None = None, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    """A new psycopg connection as the owner (closed by the caller)."""
    return psycopg.connect(**owner_params(dbname), autocommit=autocommit)  # type: ignore[arg-type]


def client_env(dbname: str | None = None) -> dict[str, str]:
    """Environment for a client program: the password never appears on a command line."""
    params = owner_params(dbname)
    names = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD"}
    names["dbname"] = "PGDATABASE"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({names[k]: v for k, v in params.items()})
    return env


def server_version(conn: psycopg.Connection[Any]) -> tuple[int, str]:
    """(major version, full version string) of the server."""
    row = conn.execute(
        "SELECT current_setting('server_version_num')::int, current_setting('server_version')"
    ).fetchone()
    assert row is not None
    return int(row[0]) // 10000, str(row[1])


@dataclass(frozen=True)
class Tool:
    path: Path
    major: int
    version: str


def _candidate_dirs() -> list[Path]:
    dirs: list[Path] = []
    try:
        from qiro import embedded

        dirs.append(embedded.bin_dir())
    except ImportError:  # pragma: no cover - the embedded package is a dependency
        pass
    dirs += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return dirs


def tool_version(path: Path) -> tuple[int, str] | None:
    try:
        out = subprocess.run(  # noqa: S603 - a PostgreSQL client program found on disk
            [str(path), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    return (int(match.group(1)), out.strip()) if match else None


def find_tool(name: str, server_major: int) -> Tool:
    """The ``name`` closest in major version to the server, and never older.

    pg_dump must be at least as new as the server; the closest one is best,
    because a newer pg_restore/psql writes settings an older server does not
    know (pg_restore 18 sets ``transaction_timeout``, which PostgreSQL 15 refuses).
    """
    seen: list[str] = []
    usable: list[Tool] = []
    for folder in _candidate_dirs():
        path = folder / name
        if not path.is_file() or not os.access(path, os.X_OK):
            continue
        version = tool_version(path)
        if version is None:
            continue
        seen.append(f"{path} ({version[1]})")
        if version[0] >= server_major:
            usable.append(Tool(path, version[0], version[1]))
    if usable:
        return min(usable, key=lambda tool: tool.major)  # first found wins among equals
    raise ToolNotFound(
        _(
            "No %(tool)s of version %(major)s or newer was found (looked at: %(seen)s). "
            "Install the PostgreSQL %(major)s client programs or put them on PATH."
        )
        % {"tool": name, "major": server_major, "seen": ", ".join(seen) or _("none")}
    )


def run_tool(
    tool: Tool, args: list[str], *, dbname: str | None = None, stdin: Any = None
) -> subprocess.CompletedProcess[str]:
    """Run a client program as the owner; raise with its own message when it fails."""
    result = subprocess.run(  # noqa: S603 - fixed program, arguments built here
        [str(tool.path), *args],
        capture_output=True,
        text=True,
        env=client_env(dbname),
        stdin=stdin,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{tool.path.name} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
        )
    return result


def company_schemas(conn: psycopg.Connection[Any]) -> list[str]:
    """Schema names of every company recorded in the database, in order."""
    with conn.cursor() as cursor:
        return migration_state.company_schemas(cursor)


def user_tables(conn: psycopg.Connection[Any], schemas: list[str] | None = None) -> list[str]:
    """Qualified names ("schema.table") of ordinary and partition tables."""
    rows = conn.execute(
        """
        SELECT n.nspname, c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT LIKE 'pg\\_%%'
          AND n.nspname <> 'information_schema'
          AND (%s::text[] IS NULL OR n.nspname = ANY(%s::text[]))
        ORDER BY 1, 2
        """,
        [schemas, schemas],
    ).fetchall()
    return [f"{s}.{t}" for s, t in rows]


def table_fingerprints(
    conn: psycopg.Connection[Any],
    *,
    schemas: list[str] | None = None,
    tables: list[str] | None = None,
    checksums: bool = False,
    chunk: int = 500,
) -> dict[str, list[Any]]:
    """Rows per table (and an md5 of the rows' text, ordered) in one statement per chunk.

    Of every table of ``schemas`` (None: of all), or of the ``tables`` named
    (``schema.table``).

    Runs in whatever snapshot the connection holds: inside a REPEATABLE READ
    transaction that exported its snapshot to pg_dump, the counts are those of
    the dump exactly.
    """
    if tables is None:
        tables = user_tables(conn, schemas)
    found: dict[str, list[Any]] = {}
    for start in range(0, len(tables), chunk):
        parts = []
        for qualified in tables[start : start + chunk]:
            schema, table = qualified.split(".", 1)
            ident = sql.Identifier(schema, table)
            digest = (
                sql.SQL("md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))")
                if checksums
                else sql.SQL("''")
            )
            parts.append(
                sql.SQL("SELECT {}::text, count(*), {} FROM {} t").format(
                    sql.Literal(qualified), digest, ident
                )
            )
        for name, count, digest in conn.execute(sql.SQL(" UNION ALL ").join(parts)).fetchall():
            found[name] = [int(count), digest] if checksums else [int(count)]
    return found
