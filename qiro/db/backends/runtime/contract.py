"""What the runtime connection cannot do, refused with a message that says why.

Its tenant context is set with ``SET LOCAL`` and lives exactly one
transaction (``base.py``). Two things follow, and each gets a clear error in
place of PostgreSQL's syntax or transaction-block error:

* **No server-side cursors.** psycopg declares a named cursor itself
  (``DECLARE … CURSOR FOR <statement>``), so the context cannot go in front of
  the statement; outside a transaction Django asks for ``WITH HOLD``, a cursor
  that outlives the transaction whose context it was read under; and neither
  PgBouncer's transaction pooling (``docs/scaling.md``) nor Citus keeps a cursor
  across transactions. ``DISABLE_SERVER_SIDE_CURSORS = True`` on the runtime
  aliases, where ``QuerySet.iterator()`` reads in chunks from an ordinary
  cursor; asking for a named cursor anyway is refused.
* **No statement that must run outside a transaction block** (``VACUUM``,
  ``CREATE INDEX CONCURRENTLY``, ``REINDEX … CONCURRENTLY``, …): they are
  maintenance and DDL, the owner's work, and the runtime roles own nothing.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, NotSupportedError
from psycopg import sql

from qiro.tenant_context import OWNER_ALIAS

# SQLSTATE active_sql_transaction: "… cannot run inside a transaction block",
# "… must be called before any query".
ACTIVE_SQL_TRANSACTION = "25001"


def refuse_server_side_cursor(alias: str) -> NoReturn:
    raise ImproperlyConfigured(
        f"The runtime database alias {alias!r} cannot use server-side cursors: its tenant "
        "context (SET LOCAL) lives one transaction, while a named cursor is declared by the "
        "driver without that context, may be held past the transaction (WITH HOLD), and is "
        "lost by transaction pooling. Keep DISABLE_SERVER_SIDE_CURSORS = True on this alias; "
        "QuerySet.iterator() then reads in chunks from an ordinary cursor."
    )


def _head(statement: str | sql.Composable, conn: Any) -> str:
    text = statement.as_string(conn) if isinstance(statement, sql.Composable) else statement
    return " ".join(text.split()[:4])


def transaction_block_error(
    error: DatabaseError, alias: str, statement: str | sql.Composable, conn: Any
) -> NotSupportedError | None:
    """PostgreSQL's transaction-block error, said again pointing to the owner's alias.

    None for any other error, which the caller re-raises as it was.
    """
    cause = error.__cause__
    if getattr(cause, "sqlstate", None) != ACTIVE_SQL_TRANSACTION:
        return None
    return NotSupportedError(
        f"{str(cause).strip()} ({_head(statement, conn)} …). The runtime database alias "
        f"{alias!r} runs every statement inside a transaction that starts with its tenant "
        "context (SET LOCAL), so a statement that must run outside a transaction block, or "
        "first in one, cannot run on it. VACUUM, CREATE INDEX CONCURRENTLY and REINDEX … "
        f"CONCURRENTLY are the owner's work: run them on connections[{OWNER_ALIAS!r}], from a "
        "management command or a migration with atomic = False."
    )
