"""sysauth 0009: schemas made before the policy form followed the server get the server's form.

On plain PostgreSQL the migration leaves every policy exactly as it is; on
Citus it re-creates a sub-select policy per row, with the hash the live code
writes, after which Citus can distribute the schema (which it refused before).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DatabaseError, connections, transaction

from qiro import rls
from qiro.db.citus import connection_is_citus
from qiro.db.declared import COMPANY

MIGRATION = importlib.import_module("sysauth.migrations.0009_policy_form_per_server")
OLD_SCHEMA = "policy_old_form"


def policies(schema: str) -> list[tuple[Any, ...]]:
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, p.polname, pg_get_expr(p.polqual, p.polrelid), "
            "pg_get_expr(p.polwithcheck, p.polrelid), obj_description(p.oid, 'pg_policy') "
            "FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
            "WHERE c.relnamespace = %s::regnamespace ORDER BY 1, 2",
            [schema],
        )
        return list(cursor.fetchall())


def migrate(schema: str) -> None:
    """Run the migration's frozen SQL in ``schema``, as migrate_schemas would."""
    owner = connections["owner"]
    owner.set_schema(schema)  # type: ignore[attr-defined]
    try:
        with transaction.atomic(using="owner"), owner.cursor() as cursor:
            for statement in MIGRATION.Migration.operations[0].sql:
                cursor.execute(statement)
    finally:
        owner.set_schema_to_public()  # type: ignore[attr-defined]


def test_the_frozen_tables_and_digests_are_the_declarations_per_row(live_db):
    declared = {m._meta.db_table: m.row_security.column for m in rls.protected_models()}  # type: ignore[attr-defined]
    for table, column in MIGRATION.TABLES:
        assert declared[table] == column
        live = rls.isolation_policy(table, column, COMPANY, citus=True)
        assert MIGRATION.DIGESTS[table] == live.digest, table


def test_policies_already_in_the_servers_form_are_left_exactly_as_they_are(live_db, two_companies):
    a, _ = two_companies
    schema = a.company.schema_name
    before = {"public": policies("public"), schema: policies(schema)}
    assert before[schema], "the company schema has its policies"
    sub_select = not connection_is_citus("owner")
    assert all(
        ("SELECT" in row[2]) == sub_select
        for row in before[schema]
        if row[1] == rls.ISOLATION_POLICY
    )
    for name in before:
        migrate(name)
    assert {"public": policies("public"), schema: policies(schema)} == before


@pytest.fixture
def old_form_schema(live_db) -> Iterator[str]:
    """A schema made as before, on the coordinator: two tables with the sub-select policy."""
    if not connection_is_citus("owner"):
        pytest.skip("plain PostgreSQL keeps the sub-select: nothing to convert")
    old = rls.CURRENT_COMPANY_SQL
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        # made as if before the cluster shards schemas: a plain schema on the coordinator
        cursor.execute("SET LOCAL citus.enable_schema_based_sharding = off")
        cursor.execute(f"CREATE SCHEMA {OLD_SCHEMA}")
        for table in ("sysauth_user", "sysauth_role"):
            cursor.execute(
                f"CREATE TABLE {OLD_SCHEMA}.{table} (id bigint PRIMARY KEY, company_id bigint)"
            )
            cursor.execute(f"ALTER TABLE {OLD_SCHEMA}.{table} ENABLE ROW LEVEL SECURITY")
            cursor.execute(f"ALTER TABLE {OLD_SCHEMA}.{table} FORCE ROW LEVEL SECURITY")
            cursor.execute(
                f"CREATE POLICY qiro_company_isolation ON {OLD_SCHEMA}.{table} "
                f"USING (company_id = {old}) WITH CHECK (company_id = {old})"
            )
    try:
        yield OLD_SCHEMA
    finally:
        with connections["owner"].cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {OLD_SCHEMA} CASCADE")


def test_on_citus_a_sub_select_policy_is_made_per_row_with_the_live_hash(
    old_form_schema, two_companies
):
    a, _ = two_companies
    refused = pytest.raises(DatabaseError, match=r"SubLink|subquer|not supported")
    with connections["owner"].cursor() as cursor, refused, transaction.atomic(using="owner"):
        cursor.execute("SELECT citus_schema_distribute(%s)", [old_form_schema])
    migrate(old_form_schema)

    live = {
        row[0]: row for row in policies(a.company.schema_name) if row[1] == rls.ISOLATION_POLICY
    }
    converted = policies(old_form_schema)
    assert [row[0] for row in converted] == ["sysauth_role", "sysauth_user"]
    for table, _, using, check, comment in converted:
        assert "SELECT" not in using
        assert "SELECT" not in check
        # exactly what the live code installs in a company schema on this server, hash included
        assert (using, check) == live[table][2:4]
        assert comment == live[table][4], table
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT citus_schema_distribute(%s)", [old_form_schema])
        cursor.execute(
            "SELECT count(*) FROM citus_schemas WHERE schema_name = %s::regnamespace",
            [old_form_schema],
        )
        assert cursor.fetchone()[0] == 1
