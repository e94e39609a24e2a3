"""What an interrupted provisioning leaves, recognised by its mark, and its removal.

A provisioning marks the schema it takes in the transaction that takes it
(the pool's rename, or the ``CREATE SCHEMA`` of a build by migrations): the
schema comment ``qiro-provisioning:<claimant>``, e.g. the application being
approved. The mark is cleared in the transaction that activates the company.
So a schema that still carries it, or a company still in status
``provisioning``, is the trace of a provisioning that did not finish, never a
guess from a name.

While a provisioning runs it holds a session-level advisory lock on the schema
name (on Django's owner connection, or on a connection of its own while
migrations run, since they close Django's); a process killed with SIGKILL
loses its connections and so the lock. ``repair_provisioning`` and the next provisioning
of the same schema take that lock first: what is locked is in progress and
left alone, what is not is removed (company and domain rows, then the schema),
so the data ends up either as an active company or as no trace at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import connections, transaction
from django.utils.translation import gettext as _

from qiro.db import pg
from qiro.tenant_context import OWNER_ALIAS, owner_context
from tenants.models import Company

MARK_PREFIX = "qiro-provisioning:"
LOCK_PREFIX = "tenants.provisioning:"


def mark_for(claimant: str) -> str:
    """The schema comment of a schema taken for ``claimant`` and not yet activated."""
    return MARK_PREFIX + claimant


@dataclass(frozen=True)
class Leftover:
    """The trace of one unfinished provisioning, and what became of it."""

    schema_name: str
    claimant: str  # from the schema's mark ("" if the schema has none or is gone)
    company_id: int | None  # a company row left in status ``provisioning``
    outcome: str  # REMOVED or IN_PROGRESS

    @property
    def message(self) -> str:
        if self.outcome == IN_PROGRESS:
            return _(
                "%(schema)s: a provisioning is still running; left alone (nothing removed)."
            ) % {"schema": self.schema_name}
        return _(
            "%(schema)s: an interrupted provisioning (%(claimant)s) was removed; no trace is "
            "left and approving the application again provisions the company."
        ) % {"schema": self.schema_name, "claimant": self.claimant or "-"}


REMOVED = "removed"
IN_PROGRESS = "in progress"


def _try_lock(conn: psycopg.Connection[Any], schema_name: str, *, wait: bool) -> bool:
    """Take the session-level provisioning lock on ``schema_name`` (False: someone holds it)."""
    key = LOCK_PREFIX + schema_name
    if wait:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
        return True
    row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key]).fetchone()
    return row is not None and bool(row[0])


class ProvisioningLock:
    """The provisioning lock on one schema name, held by this process.

    Taken on Django's owner connection, which costs one statement. A build by
    migrations must first ``move_to_own_connection``: ``migrate_schemas``
    closes Django's owner connection, and a session lock with it.
    """

    def __init__(self, schema_name: str) -> None:
        self.key = LOCK_PREFIX + schema_name
        self.schema_name = schema_name
        self.own: psycopg.Connection[Any] | None = None

    def acquire(self) -> None:
        with connections[OWNER_ALIAS].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [self.key])

    def move_to_own_connection(self) -> None:
        if self.own is not None:
            return
        self.own = pg.connect()
        self._release_on_django()
        _try_lock(self.own, self.schema_name, wait=True)

    def release(self) -> None:
        if self.own is not None:
            self.own.close()  # the session ends, and its lock with it
            self.own = None
        else:
            self._release_on_django()

    def _release_on_django(self) -> None:
        connection = connections[OWNER_ALIAS]
        if connection.connection is None:
            return  # closed meanwhile: the lock went with its session
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [self.key])


@contextlib.contextmanager
def provisioning_lock(
    schema_name: str, *, own_connection: bool = False
) -> Iterator[ProvisioningLock]:
    """Hold the provisioning lock on ``schema_name`` (waiting for it) until the block ends."""
    lock = ProvisioningLock(schema_name)
    if own_connection:
        lock.move_to_own_connection()
    else:
        lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


def clear_leftover(schema_name: str) -> Leftover | None:
    """Remove what an unfinished provisioning left under ``schema_name``; the caller holds its lock.

    A company in status ``provisioning`` goes with its domain, and its schema;
    a marked schema that no company owns is dropped. An active or suspended
    company, and a schema without the mark, are never touched (None). One
    query when nothing is left, as on every provisioning.
    """
    from tenants.schema_pool import drop_schema

    connection = pg.owner_on_public()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT max(id) FROM public.tenants_company
                    WHERE schema_name = %s AND status = %s),
                   EXISTS (SELECT 1 FROM public.tenants_company
                           WHERE schema_name = %s AND status <> %s),
                   (SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace
                    WHERE nspname = %s)
            """,
            [schema_name, Company.Status.PROVISIONING] * 2 + [schema_name],
        )
        half_made, finished, comment = cursor.fetchone()
    marked = comment is not None and comment.startswith(MARK_PREFIX)
    if half_made is None and (finished or not marked):
        return None
    with owner_context(), transaction.atomic(using=OWNER_ALIAS):
        if half_made is not None:
            Company.objects.using(OWNER_ALIAS).filter(pk=half_made).delete()
        drop_schema(schema_name)
    claimant = comment.removeprefix(MARK_PREFIX) if marked else ""
    return Leftover(schema_name, claimant, half_made, REMOVED)


def leftover_schemas(cursor: Any) -> list[str]:
    """Schemas of companies still ``provisioning``, and marked schemas no company owns.

    One query over the companies and the catalog.
    """
    cursor.execute(
        """
        SELECT schema_name FROM public.tenants_company WHERE status = %s
        UNION
        SELECT n.nspname FROM pg_namespace n
        WHERE obj_description(n.oid, 'pg_namespace') LIKE %s
          AND NOT EXISTS (SELECT 1 FROM public.tenants_company c WHERE c.schema_name = n.nspname)
        ORDER BY 1
        """,
        [Company.Status.PROVISIONING, MARK_PREFIX + "%"],
    )
    return [row[0] for row in cursor.fetchall()]


def repair_provisioning() -> list[Leftover]:
    """Remove the traces of every interrupted provisioning; leave running ones alone.

    Safe at any time (``bootstrap`` runs it at every start): a provisioning
    in progress holds its lock and is reported as such. Returns what was found.
    """
    connection = pg.owner_on_public()
    with connection.cursor() as cursor:
        candidates = leftover_schemas(cursor)
    found: list[Leftover] = []
    if not candidates:
        return found
    with pg.connect() as conn:
        for schema_name in candidates:
            if not _try_lock(conn, schema_name, wait=False):
                found.append(Leftover(schema_name, "", None, IN_PROGRESS))
                continue
            try:
                leftover = clear_leftover(schema_name)
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", [LOCK_PREFIX + schema_name])
            if leftover is not None:
                found.append(leftover)
    return found
