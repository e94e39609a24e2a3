"""The runtime backend: every statement runs inside its tenant context.

This is the one place where the tenant context reaches PostgreSQL. The
context (search_path, ``qiro.company_id``, ``qiro.actor_id``) is set with
``SET LOCAL``, so it lives exactly as long as the transaction that carries the
statement, in one of two forms:

* **on Citus, a statement of its own**, inside the transaction: before the
  first statement of a transaction (and again after the context changes or a
  savepoint rollback undid it); a statement in autocommit gets a transaction
  of its own (``BEGIN``, the context, the statement, ``COMMIT``). Citus
  forwards a ``SET LOCAL`` to the worker that holds the company's schema with
  the whole query string it came in, so a prefixed statement would run on the
  worker too, which Citus refuses; sent alone, it reaches the worker and row
  security applies there (``docs/scaling.md``);
* **on plain PostgreSQL, prefixed** to the same statements in one query
  string: PostgreSQL runs a multi-statement string as one implicit
  transaction, so in autocommit the settings hold for that statement and
  vanish with it. Measured side by side (``bench/context.py``), the prefix
  saves three round trips per autocommit statement, far more than the few
  microseconds a single code path would be worth.

Which form is asked of the server on each new connection (``qiro.db.citus``);
``executemany`` always gets the context as its own statement.

Nothing is ever set at session level, so a pooled or reused connection cannot
carry one company's context into another's request (and the context survives
PgBouncer's transaction pooling). No context means ``search_path = public``
and an empty company id: the row policies then match no company row (fail
closed).

What follows from it, and is refused with a message rather than left to a
PostgreSQL syntax error (``contract.py``): server-side cursors, and
statements that cannot run inside a transaction block (``VACUUM``,
``CREATE INDEX CONCURRENTLY``, …), which belong on the owner's alias anyway.
Django's views of the SQL (``connection.queries``, the ``django.db.backends``
log, ``CaptureQueriesContext``) show only the statements the code wrote: a
separate context statement runs on the driver's cursor, and a prefix is left
out (``operations.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from django.db import DatabaseError
from django.db.backends.postgresql import base as postgresql_base
from psycopg import sql

from qiro.context import NO_CONTEXT, TenantContext
from qiro.db.backends.common import EmbeddedServerMixin, QuietHealthCheckMixin
from qiro.db.backends.runtime import contract
from qiro.db.backends.runtime.operations import DatabaseOperations
from qiro.db.citus import is_citus

CONTEXT_STATEMENTS = 3  # search_path, company id, actor id
SAVEPOINT_STATEMENTS = ("SAVEPOINT ", "RELEASE SAVEPOINT ", "ROLLBACK TO SAVEPOINT ")


def render_context_sql(conn: psycopg.Connection[Any], context: TenantContext) -> str:
    """The ``SET LOCAL`` statements for a context, quoted by psycopg.

    Three statements in one string without parameters (the simple protocol):
    one round trip, and on Citus the string reaches the worker as it is.
    """
    schemas = (
        [context.schema_name]
        if context.schema_name == "public"
        else [
            context.schema_name,
            "public",
        ]
    )
    statement = sql.SQL(
        "SET LOCAL search_path = {schemas}; "
        "SET LOCAL qiro.company_id = {company}; "
        "SET LOCAL qiro.actor_id = {actor}"
    ).format(
        schemas=sql.SQL(", ").join(sql.Identifier(s) for s in schemas),
        company=sql.Literal("" if context.company_id is None else str(context.company_id)),
        actor=sql.Literal("" if context.actor_id is None else str(context.actor_id)),
    )
    return statement.as_string(conn)


def render_actor_sql(conn: psycopg.Connection[Any], context: TenantContext) -> str:
    """Only the actor's ``SET LOCAL``: when nothing else of the context changed.

    On Citus every ``SET LOCAL`` of a string is forwarded to the worker with
    the whole string, one trip each: a change of actor alone (the user is
    known once the session is read) then costs one trip instead of three.
    """
    actor = "" if context.actor_id is None else str(context.actor_id)
    return sql.SQL("SET LOCAL qiro.actor_id = {}").format(sql.Literal(actor)).as_string(conn)


class DatabaseWrapper(QuietHealthCheckMixin, EmbeddedServerMixin, postgresql_base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant_context: TenantContext = NO_CONTEXT
        # The context SQL already in force in the open transaction, if any,
        # and the context it was rendered from.
        self._context_in_transaction: str | None = None
        self._context_value_in_transaction: TenantContext | None = None
        self._rendered: dict[TenantContext, str] = {}
        # The prefix sent in front of the last statement (None: sent as written),
        # for DatabaseOperations.last_executed_query.
        self.context_prefix_sent: str | None = None
        # Whether the context must be a statement of its own (Citus), asked
        # of the server on each new connection.
        self.context_apart = True
        self.execute_wrappers.append(self._run_in_context)

    # --- what the context module calls ---------------------------------------

    def set_tenant_context(self, context: TenantContext) -> None:
        if self.settings_dict.get("QIRO_ROLE") == "platform" and context.company_id is not None:
            raise ValueError("the platform connection never carries a company context")
        self.tenant_context = context

    # --- statement execution -----------------------------------------------------

    def _context_sql(self) -> str:
        context = self.tenant_context
        rendered = self._rendered.get(context)
        if rendered is None:
            if len(self._rendered) > 256:
                self._rendered.clear()
            assert self.connection is not None
            rendered = self._rendered[context] = render_context_sql(self.connection, context)
        return rendered

    def create_cursor(self, name: str | None = None) -> Any:
        if name is not None:
            contract.refuse_server_side_cursor(self.alias)
        return super().create_cursor(name)

    def _run_in_context(
        self,
        execute: Callable[..., Any],
        sql_text: str | sql.Composable,
        params: Sequence[Any] | None,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        self.context_prefix_sent = None
        try:
            context_sql = self._context_sql()
            raw_cursor = context["cursor"].cursor
            if self.get_autocommit():
                if not self.context_apart and not many:
                    return self._execute_prefixed(execute, sql_text, params, context)
                # A transaction of its own, so that the context holds for this
                # statement (every row of an executemany) and ends with it: the
                # driver's (BEGIN, COMMIT, or ROLLBACK on error), which Django's
                # autocommit state and query log never see, as with the prefix.
                assert self.connection is not None
                with self.connection.transaction():
                    raw_cursor.execute(context_sql)
                    return execute(sql_text, params, many, context)
            if self._context_in_transaction != context_sql and not (
                isinstance(sql_text, str) and sql_text.startswith(SAVEPOINT_STATEMENTS)
            ):
                # Savepoint statements need no context, and must still run when
                # the transaction is aborted. Marked before running: if it fails,
                # the transaction is aborted and only a rollback, which forgets, follows.
                previous = self._context_value_in_transaction
                self._context_in_transaction = context_sql
                self._context_value_in_transaction = self.tenant_context
                if not self.context_apart and not many:
                    return self._execute_prefixed(execute, sql_text, params, context)
                raw_cursor.execute(self._context_change_sql(previous, context_sql))
            return execute(sql_text, params, many, context)
        except DatabaseError as error:
            conn = self.connection
            explained = contract.transaction_block_error(error, self.alias, sql_text, conn)
            if explained is None:
                raise
            raise explained from error

    def _context_change_sql(self, previous: TenantContext | None, context_sql: str) -> str:
        """What to send for the context: all of it, or the actor alone if only it changed."""
        current = self.tenant_context
        if (
            previous is not None
            and previous.schema_name == current.schema_name
            and previous.company_id == current.company_id
        ):
            assert self.connection is not None
            return render_actor_sql(self.connection, current)
        return context_sql

    def _execute_prefixed(
        self,
        execute: Callable[..., Any],
        sql_text: str | sql.Composable,
        params: Sequence[Any] | None,
        context: dict[str, Any],
    ) -> Any:
        """Plain PostgreSQL: the context in front of the statement, in one round trip.

        A multi-statement string runs as one implicit transaction, so in
        autocommit the settings hold for this statement and vanish with it.
        """
        if isinstance(sql_text, sql.Composable):
            sql_text = sql_text.as_string(self.connection)
        prefix = self._context_sql() + "; "
        escaped = prefix.replace("%", "%%") if params is not None else prefix
        # What the server receives starts with `prefix` (psycopg turns %% back into %).
        self.context_prefix_sent = prefix
        result = execute(escaped + sql_text, params, False, context)
        for _ in range(CONTEXT_STATEMENTS):
            context["cursor"].cursor.nextset()
        return result

    # --- forget the applied context whenever the transaction ends ------------------

    def _forget_context(self) -> None:
        self._context_in_transaction = None
        self._context_value_in_transaction = None

    def _commit(self) -> None:
        self._forget_context()
        super()._commit()  # type: ignore[misc]

    def _rollback(self) -> None:
        self._forget_context()
        super()._rollback()  # type: ignore[misc]

    def _savepoint_rollback(self, sid: str) -> None:
        # ROLLBACK TO SAVEPOINT also undoes a SET LOCAL issued after the savepoint.
        super()._savepoint_rollback(sid)  # type: ignore[misc]
        self._forget_context()

    def _set_autocommit(self, autocommit: bool) -> None:
        self._forget_context()
        super()._set_autocommit(autocommit)  # type: ignore[misc]

    def connect(self) -> None:
        self._forget_context()
        self._rendered.clear()
        super().connect()

    def init_connection_state(self) -> None:
        super().init_connection_state()
        assert self.connection is not None
        with self.connection.cursor() as cursor:  # the driver's: no context needed
            self.context_apart = is_citus(cursor)
