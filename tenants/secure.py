"""Securing a company schema: row security, the runtime role's rights, the third wall.

``secure_schema`` is the one function every path that readies a company
schema calls: provisioning from the pool and by migrations, the pool's own
fill (no company yet), the slow ``create_company_with_migrations`` and the
repair of an interrupted provisioning. A deploy that migrates schemas calls
it after each one as well.

The third wall: in a schema taken by a company, every company-keyed table
(the models declaring ``row_security``) carries the CHECK constraint
``qiro_company_only``: ``CHECK (<company column> = '<id>'::bigint)``. Row
security decides what a transaction may see and write by its context; the
constraint decides what the schema may hold at all, whatever the context.
So a write into company B's schema carrying company A's id, made in A's
context (which row security lets through, the row being A's), is refused.
Pool schemas have no company and no constraint until one is taken.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from psycopg import sql

from qiro import rls
from qiro.db.roles import apply_company_schema_grants

COMPANY_ONLY_CONSTRAINT = "qiro_company_only"
PUBLIC_SCHEMA = "public"


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


def company_keyed_tables() -> dict[str, str]:
    """{table: company column} of every company-schema table that declares row security."""
    tenant_apps = {app.rsplit(".", 1)[-1] for app in settings.TENANT_APPS}
    return {
        m._meta.db_table: m.row_security.column  # type: ignore[attr-defined]
        for m in rls.protected_models()
        if m._meta.app_label in tenant_apps
    }


def company_only_definition(column: str, company_id: int) -> str:
    """The constraint's definition as ``pg_get_constraintdef`` prints it (for comparisons)."""
    return f"CHECK (({column} = '{int(company_id)}'::bigint))"


def company_of_schema(cursor: Any, schema_name: str) -> int | None:
    """The id of the company whose schema this is; None for a pool or any other schema."""
    cursor.execute("SELECT id FROM public.tenants_company WHERE schema_name = %s", [schema_name])
    row = cursor.fetchone()
    return None if row is None else int(row[0])


def unrestricted_tables(cursor: Any, *, schema_name: str, company_id: int) -> list[str]:
    """Company-keyed tables of the schema without a valid ``qiro_company_only`` for the id.

    One catalog query over this schema (a table that is absent is not listed).
    """
    tables = company_keyed_tables()
    cursor.execute(
        """
        SELECT c.relname
        FROM unnest(%s::text[], %s::text[]) AS d(relname, col)
        JOIN pg_namespace n ON n.nspname = %s
        JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = d.relname
             AND c.relkind IN ('r', 'p')
        LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.conname = %s AND k.contype = 'c'
        WHERE k.oid IS NULL OR NOT k.convalidated
           OR pg_get_constraintdef(k.oid) <> format('CHECK ((%%I = %%L::bigint))', d.col, %s::text)
        ORDER BY 1
        """,
        [
            list(tables),
            list(tables.values()),
            schema_name,
            COMPANY_ONLY_CONSTRAINT,
            str(int(company_id)),
        ],
    )
    return [row[0] for row in cursor.fetchall()]


def restrict_to_company(cursor: Any, *, schema_name: str, company_id: int | None = None) -> int:
    """Give every company-keyed table of a company's schema its ``qiro_company_only`` CHECK.

    Idempotent: only tables whose constraint is missing or names another id
    are altered (one catalog query when nothing is to do). ``company_id``
    defaults to the company that owns ``schema_name``; a schema no company
    owns (the pool) and ``public`` are left alone. Returns the tables altered.
    """
    if schema_name == PUBLIC_SCHEMA:
        return 0
    if company_id is None:
        company_id = company_of_schema(cursor, schema_name)
        if company_id is None:
            return 0
    columns = company_keyed_tables()
    name = sql.Identifier(COMPANY_ONLY_CONSTRAINT)
    missing = unrestricted_tables(cursor, schema_name=schema_name, company_id=company_id)
    for table in missing:
        # Two statements: Citus refuses ADD CONSTRAINT beside another subcommand.
        cursor.execute(
            sql.SQL("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}").format(
                table=sql.Identifier(schema_name, table), name=name
            )
        )
        cursor.execute(
            sql.SQL(
                "ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({column} = {company}::bigint)"
            ).format(
                table=sql.Identifier(schema_name, table),
                name=name,
                column=sql.Identifier(columns[table]),
                company=sql.Literal(str(int(company_id))),
            )
        )
    return len(missing)


def secure_schema(cursor: Any, *, schema_name: str, company_id: int | None = None) -> None:
    """Secure one company (or pool) schema; idempotent, on the owner's cursor.

    Re-creates the row security of every protected table present (ENABLE,
    FORCE, the isolation policy: a clone or a migration may lose them),
    applies the runtime role's grants and their narrowing, then restricts the
    company-keyed tables to the company's id (``restrict_to_company``; the
    company owning the schema by default, none for a pool schema). Call it
    after the schema is made, taken or migrated, in the transaction that
    makes it usable. Statements are batched into few round trips.
    """
    batch = StatementBatch(cursor)
    rls.reapply_for_schema(batch, schema_name)
    apply_company_schema_grants(batch, schema_name)
    restrict_to_company(batch, schema_name=schema_name, company_id=company_id)
    batch.flush()
