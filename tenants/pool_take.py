"""Taking a schema from the warm pool at approval (``tenants.schema_pool``).

The approval renames a ready pool schema in its own transaction, and queues
a refill for when it commits. A burst of approvals can empty a small pool
faster than one refill replaces the schemas; a fill then keeps copying until
the pool is full again, and an approval that finds it empty meanwhile waits
for the copy in the making instead of running every migration itself.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import transaction
from psycopg import sql

from qiro.tenant_context import OWNER_ALIAS
from tenants.schema_pool import FILL_LOCK, pool_schemas, schema_taken

# How often an approval waiting for a schema being made looks again (seconds).
WAIT_STEP = 0.05


def take_schema(
    cursor: Any, new_name: str, *, mark: str | None = None, wait: float | None = None
) -> bool:
    """Rename one current pool schema to ``new_name`` in the caller's transaction.

    The pool's fingerprint comment is replaced by ``mark`` (the provisioning's,
    see ``tenants.repair``) in the same transaction, so a schema taken is never
    without it. Concurrent callers never take the same schema: each holds a
    transaction-level advisory lock on its choice and re-checks that it still
    exists. When the pool is empty while a fill is making schemas (it holds
    ``FILL_LOCK``), waits up to ``wait`` seconds (``QIRO_SCHEMA_POOL_WAIT_SECONDS``)
    for the schema being made: a copy takes a fraction of what the migrations
    would. Returns False when no schema came.
    """
    patience = settings.QIRO_SCHEMA_POOL_WAIT_SECONDS if wait is None else wait
    deadline = time.monotonic() + patience
    while not _take_ready(cursor, new_name, mark):
        if time.monotonic() >= deadline or not _fill_running(cursor):
            return False
        time.sleep(WAIT_STEP)
    refill_soon()
    return True


def _take_ready(cursor: Any, new_name: str, mark: str | None) -> bool:
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
        cursor.execute(
            sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                sql.Identifier(new_name), sql.Literal(mark)
            )
        )
        return True
    return False


def _fill_running(cursor: Any) -> bool:
    """Some fill of this database holds ``FILL_LOCK`` (it is making schemas now)."""
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND classid = 0 AND objid = %s AND objsubid = 1)",
        [FILL_LOCK],
    )
    return bool(cursor.fetchone()[0])


def refill_soon() -> None:
    """When the owner's current transaction commits, queue a refill of the pool for the worker.

    Called by ``take_schema``: a burst of approvals keeps finding ready
    schemas. A rolled-back take queues nothing. The queue is the receiver's
    (``schema_taken``, connected by ``deployments``). Queued through the platform
    role, so inside an approval's platform transaction the task is written
    (and seen by the worker) only when the approval commits too.
    """
    transaction.on_commit(lambda: schema_taken.send(sender=None), using=OWNER_ALIAS)
