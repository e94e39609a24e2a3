"""System checks catch a broken wall before anyone relies on it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from django.db import connections, models
from django.test.utils import isolate_apps, override_settings
from psycopg import sql

from qiro import checks
from qiro.db.citus import connection_is_citus
from qiro.db.roles import role_name
from qiro.rls import enable_statements
from tests.conftest import CompanyWithUsers


def database_errors() -> list[str]:
    return [
        f"{e.id}: {e.msg}" for e in checks.check_row_security_installed(None, databases=["owner"])
    ]


@contextlib.contextmanager
def owner_runs(statement: sql.Composable, restore: Sequence[sql.Composable]) -> Iterator[None]:
    with connections["owner"].cursor() as cursor:
        cursor.execute(statement)
    try:
        yield
    finally:
        with connections["owner"].cursor() as cursor:
            for undo in restore:
                cursor.execute(undo)


def test_a_healthy_database_passes(live_db, two_companies):
    assert database_errors() == []


def on_citus() -> bool:
    return connection_is_citus("owner")


@contextlib.contextmanager
def users_table_changed(company: CompanyWithUsers, change: str) -> Iterator[str]:
    """``change`` (``{}`` standing for the company's user table) run by the owner for the
    block, the table's row security put back after it; yields the company's schema."""
    schema = company.company.schema_name
    restore = enable_statements(
        "sysauth_user", "company_id", None, in_public=False, schema=schema, citus=on_citus()
    )
    with owner_runs(sql.SQL(change).format(sql.Identifier(schema, "sysauth_user")), restore):
        yield schema


def test_missing_force_in_one_company_schema_is_reported(live_db, two_companies):
    _, b = two_companies
    with users_table_changed(b, "ALTER TABLE {} NO FORCE ROW LEVEL SECURITY") as schema:
        assert database_errors() == [
            f"qiro.E001: {schema}.sysauth_user is missing row-level security: FORCE."
        ]


def test_missing_policy_is_reported(live_db, two_companies):
    a, _ = two_companies
    with users_table_changed(a, "DROP POLICY qiro_company_isolation ON {}") as schema:
        errors = database_errors()
    assert errors == [
        f"qiro.E001: {schema}.sysauth_user is missing row-level security: "
        "policy qiro_company_isolation."
    ]


def test_runtime_role_with_bypassrls_is_reported(live_db):
    role = sql.Identifier(role_name("app"))
    with owner_runs(
        sql.SQL("ALTER ROLE {} BYPASSRLS").format(role),
        [sql.SQL("ALTER ROLE {} NOBYPASSRLS").format(role)],
    ):
        assert any(e.startswith("qiro.E003") for e in database_errors())


@isolate_apps("sysauth")
def test_company_model_without_row_security_is_reported():
    class Note(models.Model):
        text = models.TextField()

        class Meta:
            app_label = "sysauth"

    class Scoped(models.Model):
        company_id = models.BigIntegerField()
        row_security = checks.RowSecurity()

        class Meta:
            app_label = "sysauth"

    errors = checks.company_models_without_row_security([Note, Scoped])
    assert [(e.id, e.obj) for e in errors] == [("qiro.E005", Note)]


def test_project_models_pass_the_static_check():
    assert checks.check_company_models_declare_row_security(None) == []


def test_middleware_order_is_checked():
    assert checks.check_middleware_order(None) == []
    with override_settings(
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "qiro.middleware.TenantContextMiddleware",
        ]
    ):
        assert [e.id for e in checks.check_middleware_order(None)] == ["qiro.E002"]


def test_bootstrap_migrates_every_company_schema(live_db, two_companies):
    """A migration missing in one company schema is applied by the next bootstrap."""
    from django.core.management import call_command

    a, _ = two_companies
    table = sql.Identifier(a.company.schema_name, "django_migrations")
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            sql.SQL("DELETE FROM {} WHERE app = 'registration' RETURNING name").format(table)
        )
        removed = {row[0] for row in cursor.fetchall()}
    assert removed
    call_command("bootstrap", no_superuser=True, verbosity=0)
    with connections["owner"].cursor() as cursor:
        cursor.execute(sql.SQL("SELECT name FROM {} WHERE app = 'registration'").format(table))
        assert {row[0] for row in cursor.fetchall()} == removed
