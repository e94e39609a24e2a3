"""bootstrap migrates only the company schemas that lack a migration (qiro.migration_state)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django_tenants.signals import schema_migrated
from psycopg import sql

from qiro import migration_state
from qiro.db.roles import role_name

# A shared app's migration: in a company schema its operations are routed away,
# so migrate can record it again without touching any table.
SHARED_APP = "registration"


def owner_rows(query: sql.Composable, params: list[Any] | None = None) -> list[tuple]:
    with connections["owner"].cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def state(schemas: list[str] | None = None) -> migration_state.MigrationState:
    with connections["owner"].cursor() as cursor:
        if schemas is None:
            return migration_state.company_migration_state(cursor)
        return migration_state.migration_state(cursor, schemas)


@contextlib.contextmanager
def migrated_schemas() -> Iterator[list[str]]:
    """The schemas django-tenants runs migrations in while the block runs."""
    seen: list[str] = []

    def record(sender: Any, schema_name: str, **kwargs: Any) -> None:
        seen.append(schema_name)

    schema_migrated.connect(record, dispatch_uid="test-bootstrap-migrations")
    try:
        yield seen
    finally:
        schema_migrated.disconnect(dispatch_uid="test-bootstrap-migrations")


@contextlib.contextmanager
def one_migration_row_removed(schema: str, app: str = SHARED_APP) -> Iterator[tuple[str, str]]:
    """Delete the record of ``app``'s latest migration in ``schema``; put it back afterwards."""
    table = sql.Identifier(schema, "django_migrations")
    ((name, applied),) = owner_rows(
        sql.SQL(
            "DELETE FROM {t} WHERE id = (SELECT id FROM {t} WHERE app = %s "
            "ORDER BY name DESC LIMIT 1) RETURNING name, applied"
        ).format(t=table),
        [app],
    )
    try:
        yield app, name
    finally:
        owner_rows(
            sql.SQL(
                "INSERT INTO {t} (app, name, applied) SELECT %s, %s, %s "
                "WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE app = %s AND name = %s)"
            ).format(t=table),
            [app, name, applied, app, name],
        )


def test_expected_migrations_are_every_app_s_not_only_the_company_apps():
    expected = migration_state.expected_migrations()
    apps = {app for app, _ in expected}
    assert {"sysauth", "admin", SHARED_APP, "tenants", "auth", "contenttypes"} <= apps


def test_company_schemas_with_every_migration_are_up_to_date(live_db, two_companies):
    a, b = two_companies
    found = state()
    assert {a.company.schema_name, b.company.schema_name} <= set(found.up_to_date)
    assert found.outdated == {}
    assert "public" not in found.up_to_date


def test_a_schema_lacking_one_migration_is_the_only_one_outdated(live_db, two_companies):
    a, b = two_companies
    with one_migration_row_removed(a.company.schema_name) as removed:
        found = state()
        assert found.outdated == {a.company.schema_name: frozenset([removed])}
        assert b.company.schema_name in found.up_to_date
    assert state().outdated == {}


def test_a_schema_without_a_migrations_table_lacks_every_migration(live_db, two_companies):
    a, _ = two_companies
    owner_rows(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier("no_migrations_yet")))
    try:
        found = state(["no_migrations_yet", "no_such_schema", a.company.schema_name])
    finally:
        owner_rows(sql.SQL("DROP SCHEMA {}").format(sql.Identifier("no_migrations_yet")))
    everything = migration_state.expected_migrations()
    assert found.outdated == {"no_migrations_yet": everything, "no_such_schema": everything}
    assert found.up_to_date == [a.company.schema_name]


def test_detection_takes_the_same_few_queries_whatever_the_number_of_schemas(
    live_db, two_companies
):
    with connections["owner"].cursor() as cursor:
        schemas = migration_state.company_schemas(cursor)
    assert len(schemas) >= 2
    with CaptureQueriesContext(connections["owner"]) as queries:
        state()
    statements = [q["sql"] for q in queries if not q["sql"].startswith("SET search_path")]
    # company list, tables present, one UNION ALL over every schema
    assert len(statements) == 3
    assert statements[-1].count("UNION ALL") == len(schemas) - 1


def test_bootstrap_migrates_no_company_schema_when_all_are_up_to_date(live_db, two_companies):
    out = StringIO()
    with migrated_schemas() as seen:
        call_command("bootstrap", no_superuser=True, verbosity=1, stdout=out)
    assert seen == ["public"]
    up_to_date = len(state().up_to_date)
    assert f"Company schemas: {up_to_date} up to date, 0 migrated." in out.getvalue()


def test_bootstrap_migrates_only_the_outdated_schema(live_db, two_companies):
    a, _ = two_companies
    schema = a.company.schema_name
    with one_migration_row_removed(schema) as (app, name):
        out = StringIO()
        with migrated_schemas() as seen:
            call_command("bootstrap", no_superuser=True, verbosity=2, stdout=out)
        assert seen == ["public", schema]
        assert owner_rows(
            sql.SQL("SELECT 1 FROM {} WHERE app = %s AND name = %s").format(
                sql.Identifier(schema, "django_migrations")
            ),
            [app, name],
        ) == [(1,)]
    assert re.search(r"Company schemas: \d+ up to date, 1 migrated\.", out.getvalue())
    assert f"Migrating {schema}, which lacks {app}.{name}." in out.getvalue()
    assert state().outdated == {}


def test_bootstrap_all_schemas_migrates_every_company_schema(live_db, two_companies):
    a, b = two_companies
    with migrated_schemas() as seen:
        call_command("bootstrap", no_superuser=True, all_schemas=True, verbosity=0)
    assert seen[0] == "public"
    assert {a.company.schema_name, b.company.schema_name} <= set(seen[1:])
    assert sorted(seen[1:]) == sorted(state().up_to_date)


def test_a_runtime_role_made_anew_gets_its_rights_in_every_company_schema(
    live_db, two_companies, monkeypatch
):
    """Up-to-date schemas are not migrated, so bootstrap grants a new runtime role itself."""
    a, _ = two_companies
    schema = a.company.schema_name
    new_role = f"{role_name('app')}_new"[:63]
    connections["default"].close()
    monkeypatch.setitem(connections["default"].settings_dict, "USER", new_role)
    try:
        with migrated_schemas() as seen:
            call_command("bootstrap", no_superuser=True, verbosity=0)
        assert seen == ["public"]
        ((usage, select),) = owner_rows(
            sql.SQL(
                "SELECT has_schema_privilege(%s, %s, 'USAGE'), "
                "has_table_privilege(%s, {}, 'SELECT')"
            ).format(sql.Literal(f"{schema}.sysauth_user")),
            [new_role, schema, new_role],
        )
        assert (usage, select) == (True, True)
    finally:
        monkeypatch.undo()
        connections["default"].close()
        if owner_rows(sql.SQL("SELECT 1 FROM pg_roles WHERE rolname = %s"), [new_role]):
            owner_rows(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(new_role)))
            owner_rows(sql.SQL("DROP ROLE {}").format(sql.Identifier(new_role)))


@pytest.fixture(autouse=True)
def _public_schema_afterwards(live_db: None) -> Iterator[None]:
    yield
    connections["owner"].set_schema_to_public()  # type: ignore[attr-defined]
