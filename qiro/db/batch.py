"""Statement batches: many parameterless DDL statements in one round trip."""

from __future__ import annotations

from typing import Any

from psycopg import sql


class StatementBatch:
    """A cursor that sends parameterless statements together, in one round trip.

    Wraps the owner's cursor around ``reapply_for_schema`` and
    ``apply_company_schema_grants``, which issue dozens of DDL statements
    (``psycopg.sql`` objects without parameters). A statement with parameters
    or any fetch first sends what is pending, so order and errors are kept.
    """

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.pending: list[sql.Composable] = []

    def execute(self, statement: Any, params: Any = None) -> None:
        if params is None and isinstance(statement, sql.Composable):
            self.pending.append(statement)
            return
        self.flush()
        self.cursor.execute(statement, params)

    def flush(self) -> None:
        """Send what is pending in one round trip, one statement per execute.

        psycopg's pipeline mode, not a multi-statement string: Citus forwards
        a string whole to the workers, which refuse several commands in one.
        """
        pending, self.pending = self.pending, []
        if len(pending) == 1:
            self.cursor.execute(pending[0])
        elif pending:
            raw = getattr(self.cursor, "cursor", self.cursor)  # Django's wrapper, or psycopg's
            with raw.connection.pipeline():
                for statement in pending:
                    raw.execute(statement)

    def fetchone(self) -> Any:
        self.flush()
        return self.cursor.fetchone()

    def fetchall(self) -> Any:
        self.flush()
        return self.cursor.fetchall()
