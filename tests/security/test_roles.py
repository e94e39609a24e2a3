"""The database roles: what the runtime and platform roles can and cannot do."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connections, transaction
from psycopg import sql

from qiro import middleware, tenant_context
from qiro.db.roles import role_name
from sysauth.models import User
from tenants.models import Company


def run_as(alias: str, statement: str | sql.Composable, params: list[Any] | None = None):
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def test_runtime_roles_own_nothing_and_cannot_bypass_rls(live_db):
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            """
            SELECT r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
                   (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid),
                   (SELECT count(*) FROM pg_namespace n WHERE n.nspowner = r.oid),
                   (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)
            FROM pg_roles r WHERE r.rolname = ANY(%s) ORDER BY 1
            """,
            [[role_name("app"), role_name("platform")]],
        )
        rows = cursor.fetchall()
    assert [r[1:] for r in rows] == [(False, False, False, False, 0, 0, 0)] * 2


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE {schema}.sysauth_user DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE {schema}.sysauth_user NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY qiro_company_isolation ON {schema}.sysauth_user",
        "CREATE TABLE {schema}.smuggled (id int)",
        "CREATE TABLE public.smuggled (id int)",
        "TRUNCATE {schema}.sysauth_user",
        "INSERT INTO {schema}.django_migrations (app, name, applied) VALUES ('x', 'y', now())",
        "DELETE FROM public.django_migrations",
    ],
)
def test_runtime_role_cannot_change_the_walls_or_the_schema(live_db, two_companies, statement):
    a, _ = two_companies
    with tenant_context.company_context(a.company), pytest.raises(DatabaseError):
        run_as("default", statement.format(schema=a.company.schema_name))


def test_platform_role_cannot_read_company_rows(live_db, two_companies):
    a, _ = two_companies
    table = sql.Identifier(a.company.schema_name, "sysauth_user")
    with pytest.raises(DatabaseError, match="permission denied for schema"):
        run_as("platform", sql.SQL("SELECT email FROM {}").format(table))
    # choosing A's company does not open its schema either
    with pytest.raises(DatabaseError, match="permission denied for schema"):
        run_as(
            "platform",
            sql.SQL("SET LOCAL qiro.company_id = {}; SELECT email FROM {}").format(
                sql.Literal(str(a.company.pk)), table
            ),
        )


def test_platform_role_sees_companies_and_staff_but_no_company_users(live_db, two_companies):
    a, b = two_companies
    with tenant_context.platform_context():
        assert {a.company.pk, b.company.pk} <= set(Company.objects.values_list("pk", flat=True))
        staff = User.objects.create_user("staff-check@qiro.example.kr", "x" * 12, is_staff=True)
        assert staff.company_id is None
        staff.delete()
        with (
            pytest.raises(DatabaseError, match="row-level security"),
            transaction.atomic(using="platform"),
        ):
            User.objects.create(email="smuggled@qiro.example.kr", company_id=a.company.pk)


def test_runtime_role_reads_only_its_own_company_row(live_db, two_companies):
    a, _b = two_companies
    with tenant_context.company_context(a.company):
        rows = run_as("default", "SELECT id FROM tenants_company ORDER BY id")
    assert rows == [(a.company.pk,)]


def test_host_resolution_tells_only_which_company_serves_a_host(live_db, two_companies):
    a, _ = two_companies
    resolved = middleware.resolve_host(a.host)
    assert resolved is not None
    assert (resolved.company_id, resolved.schema_name) == (a.company.pk, a.company.schema_name)
    assert middleware.resolve_host("nobody.localhost") is None
