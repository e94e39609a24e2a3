"""A deploy secures every schema it migrates: a migration cannot take the row wall away.

The attack runs as the runtime role, with raw SQL that names another
company's schema, after a deploy of a (test-only) migration that disables
row security on the users' table and drops its company-only constraint.
"""

from __future__ import annotations

import subprocess

import pytest
from django.db import connections
from psycopg import sql

from deployments.models import Deployment
from qiro import tenant_context
from qiro.db import pg
from qiro.db.secure import unrestricted_tables
from qiro.rls import reapply_for_schema

from ..security.attacks import query
from .conftest import ROOT, manage, subprocess_env

UNSAFE_SETTINGS = "tests.deployments.settings_deploy_unsafe"


@pytest.fixture
def unsafe_migration_removed_afterwards(live_db):
    yield
    with pg.connect() as conn:
        for schema in ["public", *pg.company_schemas(conn)]:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE app = 'deploy_unsafe'").format(
                    sql.Identifier(schema, "django_migrations")
                )
            )
            if schema != "public":
                reapply_for_schema(conn.cursor(), schema)
    connections["owner"].close()


def test_a_deployed_migration_that_disables_row_security_leaves_it_on(
    platform, backup_dir, two_companies, unsafe_migration_removed_afterwards
):
    a, b = two_companies
    result = subprocess.run(
        manage("deploy"),
        cwd=ROOT,
        env=subprocess_env(DJANGO_SETTINGS_MODULE=UNSAFE_SETTINGS, QIRO_BACKUP_DIR=str(backup_dir)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    connections["owner"].close()

    other_users = sql.SQL("SELECT email FROM {}").format(
        sql.Identifier(b.company.schema_name, "sysauth_user")
    )
    with tenant_context.company_context(a.company):
        assert query(other_users) == set()  # A's context, B's schema named: no rows
    with tenant_context.company_context(b.company):
        assert query(other_users) == {b.owner.email, b.member.email}  # the query works
    assert result.returncode == 0, result.stdout + result.stderr
    assert Deployment.objects.latest("pk").status == Deployment.Status.SUCCEEDED
    with pg.connect() as conn, conn.cursor() as cursor:
        for company in (a.company, b.company):  # the third wall is back in every company
            tables = unrestricted_tables(
                cursor, schema_name=company.schema_name, company_id=company.pk
            )
            assert tables == [], f"{company.schema_name} accepts other companies' rows: {tables}"
