"""A warm pool of ready company schemas, renamed to a company's name at approval.

Building a schema by running every migration takes seconds; renaming a
ready one takes milliseconds. Pool schemas are named ``qiro_pool_<hex>`` and
carry in ``COMMENT ON SCHEMA`` the fingerprint of the company-schema
migrations they were built with: after a deploy adds migrations, older pool
schemas are never handed out, and ``fill_schema_pool`` replaces them.

Pool schemas hold no rows. They are not companies: the verification of
orphan schemas must skip ``POOL_SCHEMA_LIKE``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from functools import cache
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

from qiro.db.roles import apply_company_schema_grants
from qiro.rls import reapply_for_schema
from qiro.tenant_context import OWNER_ALIAS

POOL_SCHEMA_PREFIX = "qiro_pool_"
POOL_SCHEMA_LIKE = "qiro\\_pool\\_%"
COMMENT_PREFIX = "qiro-pool:"
# A schema being built carries this and its start time; a build older than
# BUILD_TIMEOUT seconds was interrupted and is dropped by the next fill.
BUILDING_PREFIX = "qiro-pool-building:"
BUILD_TIMEOUT = 3600


@cache
def migrations_fingerprint() -> str:
    """Hash of the latest migration of every company-schema app (stable per code version)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    tenant_apps = {app.rsplit(".", 1)[-1] for app in settings.TENANT_APPS}
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


def take_schema(cursor: Any, new_name: str) -> bool:
    """Rename one current pool schema to ``new_name`` in the caller's transaction.

    Returns False when the pool is empty. Concurrent callers never take the
    same schema: each holds a transaction-level advisory lock on its choice and
    re-checks that it still exists.
    """
    for name in pool_schemas(cursor, current_only=True):
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [name])
        if not cursor.fetchone()[0]:
            continue
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        if cursor.fetchone() is None:
            continue
        cursor.execute(
            sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                sql.Identifier(name), sql.Identifier(new_name)
            )
        )
        cursor.execute(sql.SQL("COMMENT ON SCHEMA {} IS NULL").format(sql.Identifier(new_name)))
        return True
    return False


def build_schema_with_migrations(schema_name: str, *, comment: str | None = None) -> None:
    """Create ``schema_name`` and run every company migration in it (slow; owner).

    ``migrate_schemas`` commits on its own, so the caller drops the schema on failure.
    """
    connection = connections[OWNER_ALIAS]
    connection.set_schema_to_public()  # type: ignore[attr-defined]
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
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def drop_schema(schema_name: str) -> None:
    connection = connections[OWNER_ALIAS]
    connection.set_schema_to_public()  # type: ignore[attr-defined]
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


def fill_schema_pool(*, size: int | None = None) -> list[str]:
    """Drop outdated pool schemas and build new ones until ``size`` are ready.

    Each new schema is fully migrated, has its row security and grants, and
    only then gets its fingerprint comment: a schema whose build failed or was
    interrupted is never handed out, and is dropped by a later fill once its
    build is older than ``BUILD_TIMEOUT`` (a concurrent fill's build is left alone).
    """
    target = settings.QIRO_SCHEMA_POOL_SIZE if size is None else size
    connection = connections[OWNER_ALIAS]
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
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
    built: list[str] = []
    for _ in range(max(0, target - len(current))):
        name = POOL_SCHEMA_PREFIX + secrets.token_hex(6)
        try:
            build_schema_with_migrations(name, comment=f"{BUILDING_PREFIX}{int(time.time())}")
            with connection.cursor() as cursor:
                reapply_for_schema(cursor, name)
                apply_company_schema_grants(cursor, name)
                cursor.execute(
                    sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                        sql.Identifier(name),
                        sql.Literal(COMMENT_PREFIX + migrations_fingerprint()),
                    )
                )
        except BaseException:
            drop_schema(name)
            raise
        built.append(name)
    return built
