"""What an interrupted provisioning leaves, recognised by its mark, and its removal.

A provisioning marks the schema it takes in the transaction that takes it
(the pool's rename, or the ``CREATE SCHEMA`` of a build by migrations): the
schema comment ``qiro-provisioning:<claimant>``, e.g. the application being
approved. The mark is cleared in the transaction that activates the company.
So a schema that still carries it, or a company still in status
``provisioning``, is the trace of a provisioning that did not finish, never a
guess from a name.

While a provisioning runs it holds a session-level advisory lock on the schema
name, on a connection of its own; a process killed with SIGKILL loses its
connections and so the lock. ``repair_provisioning`` and the next provisioning
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

from deployments import pg
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


@contextlib.contextmanager
def provisioning_lock(schema_name: str) -> Iterator[None]:
    """Hold the provisioning lock on ``schema_name`` (waiting for it) until the block ends.

    On a connection of its own: ``migrate_schemas`` closes Django's owner
    connection, which would lose a session lock taken there.
    """
    with pg.connect() as conn:
        _try_lock(conn, schema_name, wait=True)
        yield


def _schema_mark(cursor: Any, schema_name: str) -> str | None:
    """The claimant in the schema's mark; None if the schema is absent or carries no mark."""
    cursor.execute(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
        [schema_name],
    )
    row = cursor.fetchone()
    comment = row[0] if row else None
    if comment is None or not comment.startswith(MARK_PREFIX):
        return None
    return str(comment.removeprefix(MARK_PREFIX))


def clear_leftover(schema_name: str) -> Leftover | None:
    """Remove what an unfinished provisioning left under ``schema_name``; the caller holds its lock.

    A company in status ``provisioning`` goes with its domain, and its schema;
    a marked schema that no company owns is dropped. An active or suspended
    company, and a schema without the mark, are never touched (None).
    """
    from tenants.schema_pool import drop_schema

    connection = connections[OWNER_ALIAS]
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    with owner_context(), transaction.atomic(using=OWNER_ALIAS):
        companies = {
            status: pk
            for pk, status in Company.objects.using(OWNER_ALIAS)
            .filter(schema_name=schema_name)
            .values_list("pk", "status")
        }
        with connection.cursor() as cursor:
            claimant = _schema_mark(cursor, schema_name)
        half_made = companies.get(Company.Status.PROVISIONING)
        if half_made is None and (companies or claimant is None):
            return None
        if half_made is not None:
            Company.objects.using(OWNER_ALIAS).filter(pk=half_made).delete()
        drop_schema(schema_name)
    return Leftover(schema_name, claimant or "", half_made, REMOVED)


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
    connection = connections[OWNER_ALIAS]
    connection.set_schema_to_public()  # type: ignore[attr-defined]
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
