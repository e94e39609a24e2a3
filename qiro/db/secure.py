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
from django.db import connections
from psycopg import sql

from qiro import rls
from qiro.app_labels import tenant_app_labels
from qiro.db.batch import StatementBatch
from qiro.db.objects import reinstall_triggers, stamp_declared_policies
from qiro.db.roles import apply_company_schema_grants, apply_public_grants, role_name


class ProvisioningError(Exception):
    """A provisioning step found the new schema unfit; nothing was kept."""


COMPANY_ONLY_CONSTRAINT = "qiro_company_only"
PUBLIC_SCHEMA = "public"


def company_keyed_tables() -> dict[str, str]:
    """{table: company column} of every company-schema table that declares row security."""
    tenant_apps = tenant_app_labels()
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
    FORCE, the isolation policy: a clone or a migration may lose them) and
    the declared triggers, each with its hash (``qiro.db.objects``), applies
    the runtime role's grants and their narrowing, then restricts the
    company-keyed tables to the company's id (``restrict_to_company``; the
    company owning the schema by default, none for a pool schema). Call it
    after the schema is made, taken or migrated, in the transaction that
    makes it usable. Statements are batched into few round trips.
    """
    batch = StatementBatch(cursor)
    rls.reapply_for_schema(batch, schema_name)
    reinstall_triggers(batch, schema_name)
    apply_company_schema_grants(batch, schema_name)
    restrict_to_company(batch, schema_name=schema_name, company_id=company_id)
    batch.flush()


def company_tables() -> set[str]:
    """Tables every company schema must hold with row security (declared on the models)."""
    return set(company_keyed_tables())


def verify_schema(cursor: Any, schema_name: str, *, company_id: int | None = None) -> None:
    """Refuse a schema unless every company table is there with ENABLE, FORCE and its policy.

    Also checks that the runtime role may use the schema and, given the
    company, that every company table accepts only its id. One query, over
    this schema only (``qiro.rls.missing_row_security`` reads every schema),
    and one for the constraint.
    """
    cursor.execute(
        """
        SELECT c.relname, c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (
                   SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s),
               has_schema_privilege(%s, n.oid, 'USAGE')
        FROM pg_namespace n
        LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
             AND c.relname = ANY(%s)
        WHERE n.nspname = %s
        """,
        [rls.ISOLATION_POLICY, role_name("app"), sorted(company_tables()), schema_name],
    )
    rows = cursor.fetchall()
    if not rows or not rows[0][2]:
        raise ProvisioningError(f"the runtime role cannot use {schema_name}")
    protected = {table for table, secured, _ in rows if table is not None and secured}
    unprotected = company_tables() - protected
    if unprotected:
        raise ProvisioningError(
            f"tables missing or without ENABLE/FORCE/policy in {schema_name}: {sorted(unprotected)}"
        )
    if company_id is not None:
        unrestricted = unrestricted_tables(cursor, schema_name=schema_name, company_id=company_id)
        if unrestricted:
            raise ProvisioningError(
                f"tables of {schema_name} accept rows of other companies: {unrestricted}"
            )


def apply_grants_after_migrate(using: str, **_: Any) -> None:
    """post_migrate: secure the schema that was just migrated.

    A company (or pool) schema gets the whole ``secure_schema``; ``public``
    the row security of its protected tables and its declared triggers as the
    code declares them (migrations hold frozen copies), the hash of each
    app-declared policy found as declared (``qiro.db.objects``), its grants.
    """
    if settings.DATABASES[using].get("QIRO_ROLE") != "owner":
        return
    connection = connections[using]
    schema_name = getattr(connection, "schema_name", PUBLIC_SCHEMA)
    with connection.cursor() as cursor:
        if schema_name == PUBLIC_SCHEMA:
            secure_public(cursor)
        else:
            secure_schema(cursor, schema_name=schema_name)


def secure_public(cursor: Any) -> None:
    """``public``'s row security, declared triggers and policy hashes as declared; its grants.

    After its migrations, and on Citus again after the public tables are
    placed: a conversion re-creates a table, with its policies and triggers
    but without their comments, so their hashes are written again.
    """
    batch = StatementBatch(cursor)
    rls.reapply_for_schema(batch, PUBLIC_SCHEMA)
    reinstall_triggers(batch, PUBLIC_SCHEMA)
    stamp_declared_policies(batch)
    batch.flush()
    apply_public_grants(cursor)
