"""A warm pool of ready company schemas, renamed to a company's name at approval.

Building a schema by running every migration takes about half a second (much
more under load); renaming a ready one takes milliseconds. Pool schemas are
named ``qiro_pool_<hex>`` and carry in ``COMMENT ON SCHEMA`` the fingerprint of
the company-schema migrations they were built with: after a deploy adds
migrations, older pool schemas are never handed out, and ``fill_schema_pool``
replaces them.

A fill runs the migrations for one schema at most. That schema (or, if the
pool already holds one built with today's migrations, that one) is the
template: ``pg_dump --schema-only`` writes its DDL once, and every other new
schema is that script with the template's name replaced, replayed in ONE
transaction together with the template's migration records, row security,
grants and the fingerprint comment. A clone is thus either whole and ready or
absent. Without a usable ``pg_dump`` the fill builds every schema by
migrations, as before, and logs a warning.

Pool schemas hold no rows. They are not companies: the verification of
orphan schemas must skip ``POOL_SCHEMA_LIKE``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.dispatch import Signal
from psycopg import sql

from qiro.app_labels import tenant_app_labels
from qiro.db import pg
from qiro.db.citus import is_citus
from qiro.db.secure import secure_schema
from qiro.tenant_context import OWNER_ALIAS

logger = logging.getLogger(__name__)

# Sent when a transaction that took a pool schema commits: the pool wants a refill.
schema_taken = Signal()

POOL_SCHEMA_PREFIX = "qiro_pool_"
POOL_SCHEMA_LIKE = "qiro\\_pool\\_%"
COMMENT_PREFIX = "qiro-pool:"
# A schema being built carries this and its start time; a build older than
# BUILD_TIMEOUT seconds was interrupted and is dropped by the next fill.
BUILDING_PREFIX = "qiro-pool-building:"
BUILD_TIMEOUT = 3600
# The only names a template may have: a random token that no other identifier,
# keyword or literal of a dump can contain as a whole word.
POOL_NAME_RE = re.compile(r"qiro_pool_[0-9a-f]{12}")
# Held (shared, on its own connection) by every fill while it makes schemas, for
# ``tenants.pool_take``; a positive key below 2**31: pg_locks shows classid 0, objid FILL_LOCK.
FILL_LOCK = 0x51504F4C
# A fill makes up to this many times the pool's size more schemas than were missing
# when it started, for approvals that took schemas while it ran.
CATCH_UP = 10
# psql meta-commands pg_dump writes around its script (the server knows no such statement).
PSQL_ONLY_LINES = ("\\restrict ", "\\unrestrict ")


@cache
def migrations_fingerprint() -> str:
    """Hash of the latest migration of every company-schema app (stable per code version)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    tenant_apps = tenant_app_labels()
    leaves = sorted(f"{a}.{n}" for a, n in loader.graph.leaf_nodes() if a in tenant_apps)
    return hashlib.sha256("\n".join(leaves).encode()).hexdigest()[:32]


def pool_schemas(cursor: Any, *, current_only: bool) -> list[str]:
    """Names of the pool's schemas (only those built with today's migrations, if asked)."""
    cursor.execute(
        "SELECT n.nspname FROM pg_namespace n "
        "WHERE n.nspname LIKE %s "
        "AND (NOT %s OR obj_description(n.oid, 'pg_namespace') = %s) ORDER BY 1",
        [POOL_SCHEMA_LIKE, current_only, COMMENT_PREFIX + migrations_fingerprint()],
    )
    return [row[0] for row in cursor.fetchall()]


def build_schema_with_migrations(schema_name: str, *, comment: str | None = None) -> None:
    """Create ``schema_name`` and run every company migration in it (slow; owner).

    ``migrate_schemas`` commits on its own, so the caller drops the schema on failure.
    """
    connection = pg.owner_on_public()
    # Schema and comment in one transaction: a concurrent fill never sees the
    # schema without its "being built" mark, which it would drop as stale.
    with transaction.atomic(using=OWNER_ALIAS), connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema_name)))
        if comment is not None:
            cursor.execute(
                sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                    sql.Identifier(schema_name), sql.Literal(comment)
                )
            )
    call_command(
        "migrate_schemas", schema_name=schema_name, tenant=True, interactive=False, verbosity=0
    )
    pg.owner_on_public()


def drop_schema(schema_name: str) -> None:
    connection = pg.owner_on_public()
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema_name))
        )


def _build_in_progress(comment: str) -> bool:
    """A concurrent fill is building this schema (and has not been at it for too long)."""
    started = comment.removeprefix(BUILDING_PREFIX)
    if started == comment or not started.isdigit():
        return False
    return time.time() - int(started) < BUILD_TIMEOUT


def _secure(cursor: Any, schema_name: str) -> None:
    """Row security and the runtime role's rights; no company yet, so no company constraint."""
    secure_schema(cursor, schema_name=schema_name, company_id=None)


def _mark_ready(cursor: Any, schema_name: str) -> None:
    """The fingerprint comment: from now on the schema may be handed out."""
    cursor.execute(
        sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
            sql.Identifier(schema_name), sql.Literal(COMMENT_PREFIX + migrations_fingerprint())
        )
    )


@dataclass(frozen=True)
class Template:
    """What new pool schemas are cloned from: a ready schema's DDL and migration records."""

    name: str
    ddl: str  # pg_dump --schema-only of ``name``, without psql meta-commands
    migrations: list[tuple[str, str, datetime]]  # (app, name, applied), in order

    def ddl_for(self, new_name: str) -> str:
        """The script with the template's name replaced by ``new_name`` wherever it stands.

        A whole identifier only, bare or quoted, in qualified names and in
        literals alike (e.g. a ``regclass`` default); never part of a longer
        name. Pool names are random tokens, so nothing else can match.
        """
        if not POOL_NAME_RE.fullmatch(self.name) or not POOL_NAME_RE.fullmatch(new_name):
            raise ValueError(f"not pool schema names: {self.name!r}, {new_name!r}")
        token = re.compile(rf"(?<![\w$]){re.escape(self.name)}(?![\w$])")
        return token.sub(lambda _: new_name, self.ddl)


def pg_dump_tool() -> pg.Tool | None:
    """The pg_dump for this server, or None (logged) when there is none."""
    with connections[OWNER_ALIAS].cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int")
        major = int(cursor.fetchone()[0]) // 10000
    try:
        return pg.find_tool("pg_dump", major)
    except pg.ToolNotFound as error:
        logger.warning("Schema pool: no pg_dump, every schema is built by migrations: %s", error)
        return None


def dump_template(tool: pg.Tool, schema_name: str, cursor: Any) -> Template:
    """Read ``schema_name``'s DDL (``pg_dump``, as the owner) and its migration records.

    The caller makes sure nobody renames or alters the schema meanwhile.
    """
    dumped = pg.run_tool(tool, ["--schema-only", "--strict-names", "--schema", schema_name]).stdout
    ddl = "\n".join(line for line in dumped.splitlines() if not line.startswith(PSQL_ONLY_LINES))
    if f"\nCREATE SCHEMA {schema_name};\n" not in ddl:
        raise RuntimeError(f"pg_dump wrote no CREATE SCHEMA for {schema_name}")
    cursor.execute(
        sql.SQL("SELECT app, name, applied FROM {} ORDER BY id").format(
            sql.Identifier(schema_name, "django_migrations")
        )
    )
    migrations = [tuple(row) for row in cursor.fetchall()]
    if not migrations:
        raise RuntimeError(f"{schema_name} has no migration records")
    return Template(schema_name, ddl, migrations)


def clone_schema(conn: psycopg.Connection[Any], template: Template, schema_name: str) -> None:
    """Create ``schema_name`` as a copy of the template, ready for the pool, in ONE transaction.

    The replayed DDL (schema, types, functions, tables, identity sequences
    starting afresh, constraints, indexes, triggers, policies with ENABLE and
    FORCE, grants), the template's migration records, row security and grants
    re-applied, and the fingerprint comment commit together: an interruption
    leaves no schema, and no fill ever sees it half made.

    ``conn`` is the fill's own owner connection, never Django's: the script's
    session settings (it empties the search path) stay on it.
    """
    apps, names, applied = (list(column) for column in zip(*template.migrations, strict=True))
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute(template.ddl_for(schema_name).encode())
        cursor.execute(
            sql.SQL(
                "INSERT INTO {} (app, name, applied) SELECT m.app, m.name, m.applied "
                "FROM unnest(%s::text[], %s::text[], %s::timestamptz[]) "
                "WITH ORDINALITY AS m(app, name, applied, position) ORDER BY m.position"
            ).format(sql.Identifier(schema_name, "django_migrations")),
            [apps, names, applied],
        )
        _secure(cursor, schema_name)
        _mark_ready(cursor, schema_name)


def _reuse_template(
    conn: psycopg.Connection[Any], tool: pg.Tool, candidates: list[str]
) -> Template | None:
    """Dump a ready pool schema as the template, or None if none can be held still.

    A shared advisory lock on the name keeps ``take_schema`` (which needs it
    exclusively) from renaming the schema while pg_dump reads it; concurrent
    fills may share it.
    """
    with conn.transaction(), conn.cursor() as cursor:
        for name in candidates:
            if not POOL_NAME_RE.fullmatch(name):
                continue
            cursor.execute("SELECT pg_try_advisory_xact_lock_shared(hashtext(%s))", [name])
            locked = cursor.fetchone()
            if locked is None or not locked[0]:
                continue
            cursor.execute(
                "SELECT 1 FROM pg_namespace n WHERE n.nspname = %s "
                "AND obj_description(n.oid, 'pg_namespace') = %s",
                [name, COMMENT_PREFIX + migrations_fingerprint()],
            )
            if cursor.fetchone() is None:
                continue  # handed out (or replaced) since it was listed
            return dump_template(tool, name, cursor)
    return None


class _Fill:
    """The state of one fill: the pg_dump to use (None: migrations only), its connection."""

    def __init__(self, tool: pg.Tool | None, stack: contextlib.ExitStack) -> None:
        self.tool = tool
        self.stack = stack
        self.conn: psycopg.Connection[Any] | None = None
        self.template: Template | None = None

    def connection(self) -> psycopg.Connection[Any]:
        if self.conn is None:
            self.conn = self.stack.enter_context(pg.connect())
        return self.conn

    def wanted(self, built: list[str], *, missing: int, target: int) -> bool:
        """Another schema is to be made: what was missing at the start, then what was taken since.

        Catching up is bounded (``CATCH_UP`` times ``target`` more), so a fill always ends.
        """
        if len(built) < missing:
            return True
        if len(built) >= missing + CATCH_UP * target:
            return False
        with self.connection().cursor() as cursor:
            return len(pool_schemas(cursor, current_only=True)) < target

    def dump_or_give_up(self, dump: Callable[[], Template | None]) -> Template | None:
        """Run ``dump()``; if pg_dump fails, warn and fill the rest by migrations."""
        try:
            return dump()
        except RuntimeError as error:
            logger.warning("Schema pool: pg_dump failed, building by migrations: %s", error)
            self.tool = None
            return None

    def build_with_migrations(self, name: str, *, as_template: bool) -> None:
        """One ready schema by migrations; dumped as the template before it is marked ready."""
        connection = connections[OWNER_ALIAS]
        try:
            build_schema_with_migrations(name, comment=f"{BUILDING_PREFIX}{int(time.time())}")
            with transaction.atomic(using=OWNER_ALIAS), connection.cursor() as cursor:
                _secure(cursor, name)
            tool = self.tool
            if as_template and tool is not None:
                # Still marked as being built: no provisioning takes it meanwhile.
                with connection.cursor() as cursor:
                    self.template = self.dump_or_give_up(lambda: dump_template(tool, name, cursor))
            with connection.cursor() as cursor:
                _mark_ready(cursor, name)
        except BaseException:
            drop_schema(name)
            raise


def fill_schema_pool(*, size: int | None = None, clone: bool = True) -> list[str]:
    """Drop outdated pool schemas and make new ones until ``size`` are ready.

    With ``clone`` (and a pg_dump for the server), one schema is built by
    migrations, or an existing ready one is reused, as the template, and the
    others are cloned from it (see ``clone_schema``); otherwise each is built by
    migrations. A schema built by migrations carries its being-built mark from
    the transaction that creates it until it is migrated, secured and given its
    fingerprint comment: one whose build failed or was interrupted is never
    handed out, and is dropped by a later fill once its build is older than
    ``BUILD_TIMEOUT`` (a concurrent fill's build is left alone). Schemas taken
    while the fill runs are replaced by the same fill (see ``_Fill.wanted``),
    and approvals that find the pool empty meanwhile wait for the next one
    (``tenants.pool_take.take_schema``). Returns the names made, in order (a template built here
    comes first).
    """
    target = settings.QIRO_SCHEMA_POOL_SIZE if size is None else size
    connection = pg.owner_on_public()
    with connection.cursor() as cursor:
        # Citus refuses pg_dump's DDL replayed (identity columns added by ALTER
        # TABLE): there every pool schema is built by migrations.
        clone = clone and not is_citus(cursor)
        current = set(pool_schemas(cursor, current_only=True))
        cursor.execute(
            "SELECT n.nspname, coalesce(obj_description(n.oid, 'pg_namespace'), '') "
            "FROM pg_namespace n WHERE n.nspname LIKE %s",
            [POOL_SCHEMA_LIKE],
        )
        comments = dict(cursor.fetchall())
    for name, comment in comments.items():
        if name not in current and not _build_in_progress(comment):
            drop_schema(name)
    missing = max(0, target - len(current))
    built: list[str] = []
    if not missing:
        return built
    with contextlib.ExitStack() as stack:
        fill = _Fill(pg_dump_tool() if clone else None, stack)
        fill.connection().execute("SELECT pg_advisory_lock_shared(%s)", [FILL_LOCK])
        tool = fill.tool
        if tool is not None and current:
            conn = fill.connection()
            # The last name first: approvals take the first, and skip the one being dumped.
            fill.template = fill.dump_or_give_up(
                lambda: _reuse_template(conn, tool, sorted(current, reverse=True))
            )
        while fill.wanted(built, missing=missing, target=target):
            name = POOL_SCHEMA_PREFIX + secrets.token_hex(6)
            if fill.template is None:
                # Dumped as the template only if more are to follow.
                more = len(built) >= missing or missing - len(built) > 1
                fill.build_with_migrations(name, as_template=more)
            else:
                clone_schema(fill.connection(), fill.template, name)
            built.append(name)
    return built
