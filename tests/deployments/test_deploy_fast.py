"""Deploys of new migrations: equal to migrate_schemas, stopped by a failure, resumed.

The migrations come from a test-only company app (``deploy_fixture``), installed
by the subprocesses' settings only; what they leave is removed afterwards.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from django.db import connections
from psycopg import sql

from deployments.models import Deployment
from qiro.db import pg
from tenants import schema_pool
from tests.conftest import english

from ..tenants.catalog import differences, schema_catalog
from .conftest import ROOT, fingerprints, manage, owner_execute, subprocess_env

FIXTURE_SETTINGS = "tests.deployments.settings_deploy_fixture"
FIXTURE_APP = "deploy_fixture"
# What the fixture app's migrations make in a schema, dependants first.
FIXTURE_OBJECTS = (("VIEW", "deploy_fixture_note_titles"), ("TABLE", "deploy_fixture_note"))


def run(*args: str, backup_dir, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        manage(*args),
        cwd=ROOT,
        env=subprocess_env(
            DJANGO_SETTINGS_MODULE=FIXTURE_SETTINGS,
            QIRO_BACKUP_DIR=str(backup_dir),
            QIRO_DEPLOY_CONNECTIONS="1",  # one at a time: the order below is the order run
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    connections["owner"].close()
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def migrate_ordinarily(schema_name: str, *, backup_dir) -> None:
    """``migrate_schemas`` for one schema, as the owner (the ordinary way)."""
    run(
        "shell", "-c",
        "from django.core.management import call_command\n"
        "from qiro.tenant_context import owner_context\n"
        "with owner_context():\n"
        f"    call_command('migrate_schemas', schema_name={schema_name!r}, tenant=True, "
        "interactive=False, verbosity=0)\n",
        backup_dir=backup_dir,
    )  # fmt: skip


@pytest.fixture
def fixture_app_removed_afterwards(live_db):
    """Whatever the fixture app's migrations made, in every schema, is dropped again."""
    yield
    with pg.connect() as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = 'public' "
            "OR nspname = ANY(%s) OR nspname LIKE %s",
            [pg.company_schemas(conn), schema_pool.POOL_SCHEMA_LIKE],
        ).fetchall()
        for (schema,) in schemas:
            for kind, name in FIXTURE_OBJECTS:
                conn.execute(
                    sql.SQL("DROP {} IF EXISTS {}").format(
                        sql.SQL(kind), sql.Identifier(schema, name)
                    )
                )
            (recorded,) = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", [f'"{schema}".django_migrations']
            ).fetchone() or (False,)
            if recorded:
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE app = %s").format(
                        sql.Identifier(schema, "django_migrations")
                    ),
                    [FIXTURE_APP],
                )
        conn.execute("DROP TABLE IF EXISTS public.deploy_fixture_trap")
    connections["owner"].close()


def catalog(schema_name: str) -> dict:
    found = schema_catalog(schema_name)
    found["django_migrations"] = {(app, name) for _id, app, name in found["django_migrations"]}
    return found


def notes(schema_name: str) -> list[tuple]:
    with pg.connect() as conn:
        return conn.execute(
            sql.SQL("SELECT company_id, title, priority FROM {} ORDER BY id").format(
                sql.Identifier(schema_name, "deploy_fixture_note")
            )
        ).fetchall()


def fixture_records(schema_name: str) -> list[tuple]:
    with pg.connect() as conn:
        return conn.execute(
            sql.SQL("SELECT name, applied FROM {} WHERE app = %s ORDER BY id").format(
                sql.Identifier(schema_name, "django_migrations")
            ),
            [FIXTURE_APP],
        ).fetchall()


def pool_mark(schema_name: str) -> str:
    with pg.connect() as conn:
        (mark,) = conn.execute(
            "SELECT obj_description(%s::regnamespace, 'pg_namespace')", [schema_name]
        ).fetchone() or ("",)
        return str(mark)


def test_a_schema_deployed_the_fast_way_equals_one_migrated_by_migrate_schemas(
    platform, backup_dir, two_companies, fixture_app_removed_afterwards
):
    """AddField + AddIndex, a data migration and a RunSQL one, on a company table."""
    a, b = (c.company.schema_name for c in two_companies)
    before = differences(catalog(a), catalog(b))

    migrate_ordinarily(a, backup_dir=backup_dir)
    result = run("deploy", backup_dir=backup_dir)

    deployment = Deployment.objects.latest("pk")
    assert deployment.status == Deployment.Status.SUCCEEDED, deployment.reason
    migrate = next(s for s in deployment.steps if s["name"] == "migrate")
    # Only the data migration ran through Django's operations; the others were rendered once.
    assert "deploy_fixture.0003_welcome_note (RunPython runs per schema)" in english(
        migrate["detail"]
    )
    assert "0002_note_priority" not in english(migrate["detail"])
    assert "0004_note_titles" not in english(migrate["detail"])
    assert re.search(r"\d+/\d+ schemas", result.stderr), result.stderr  # the progress bar

    after_a, after_b = catalog(a), catalog(b)
    assert ("deploy_fixture_note", "r", True, True, "p", "d", None) in after_b["tables"]
    assert any(row[0] == "deploy_fixture_note_prio" for row in after_b["indexes"])
    assert (FIXTURE_APP, "0004_note_titles") in after_b["django_migrations"]
    assert differences(after_a, after_b) == before
    assert notes(a) == notes(b) == [(0, "welcome after 0", 1)]


def trap_deploy_at(schema_name: str) -> str:
    """The fixture app's migration fails in ``schema_name``; returns the canary, a ready
    pool schema that the deploy migrates too."""
    (canary,) = schema_pool.fill_schema_pool(size=1)
    connections["owner"].close()
    owner_execute("CREATE TABLE public.deploy_fixture_trap (schema_name text)")
    owner_execute("INSERT INTO public.deploy_fixture_trap VALUES (%s)", [schema_name])
    return canary


def test_a_failing_schema_stops_the_deploy_and_the_next_deploy_continues_after_it(
    platform, backup_dir, two_companies, fixture_app_removed_afterwards
):
    a, b = (c.company.schema_name for c in two_companies)
    canary = trap_deploy_at(a)
    untouched = fingerprints(schemas=[a, b])
    mark_before = pool_mark(canary)

    failed = run("deploy", backup_dir=backup_dir, check=False)

    assert failed.returncode != 0
    deployment = Deployment.objects.latest("pk")
    assert deployment.status == Deployment.Status.FAILED
    assert f"injected failure in {a}" in english(deployment.reason)
    assert "deploy again to continue" in english(deployment.reason)
    assert {s["name"]: s["status"] for s in deployment.steps} == {
        "backup": "done", "migrate": "failed", "restore": "skipped",
    }  # fmt: skip
    migrate = next(s for s in deployment.steps if s["name"] == "migrate")
    assert migrate["progress"]["done"] == 1
    assert migrate["progress"]["failed"] == 1
    assert migrate["progress"]["last_schema"] == a
    assert f"{a}: injected failure in {a}" in failed.stderr  # under the progress bar
    # The canary is done and recorded; the failing schema and those after it are as before.
    done_first = fixture_records(canary)
    assert [name for name, _ in done_first][-1] == "0005_trap"
    # ... and marked ready with the new migrations' fingerprint (this process has the old one).
    assert pool_mark(canary) != mark_before
    assert pool_mark(canary).startswith(schema_pool.COMMENT_PREFIX)
    assert fixture_records(a) == fixture_records(b) == []
    assert fingerprints(schemas=[a, b]) == untouched

    owner_execute("DELETE FROM public.deploy_fixture_trap")
    run("deploy", backup_dir=backup_dir)

    resumed = Deployment.objects.latest("pk")
    assert resumed.status == Deployment.Status.SUCCEEDED, resumed.reason
    assert fixture_records(canary) == done_first  # not migrated twice
    assert [name for name, _ in fixture_records(a)][-1] == "0005_trap"
    assert [name for name, _ in fixture_records(b)][-1] == "0005_trap"
    assert notes(a) == notes(b) == [(0, "welcome after 0", 1)]


@pytest.mark.usefixtures("restores_from_a_dump")
def test_a_failed_deploy_puts_back_only_the_schemas_it_changed(
    platform, backup_dir, two_companies, fixture_app_removed_afterwards
):
    a, b = (c.company.schema_name for c in two_companies)
    canary = trap_deploy_at(b)
    before = fingerprints(schemas=[a, b])
    with pg.connect() as conn:  # a company the deploy never reaches, changed meanwhile
        conn.execute(sql.SQL("UPDATE {} SET full_name = 'changed after the backup'").format(
            sql.Identifier(b, "sysauth_user")))  # fmt: skip

    failed = run("deploy", "--rollback", "changed", backup_dir=backup_dir, check=False)

    assert failed.returncode != 0
    deployment = Deployment.objects.latest("pk")
    assert deployment.status == Deployment.Status.ROLLED_BACK, deployment.reason
    restore = next(s for s in deployment.steps if s["name"] == "restore")
    assert english(restore["detail"]).startswith("restored 1 company schemas the deploy changed"), (
        restore
    )
    assert "(1 pool schemas dropped)" in english(restore["detail"])
    # A was migrated, then put back as it was before the deploy; the canary, a pool
    # schema without rows, is gone (the next fill makes new ones).
    assert fixture_records(a) == []
    assert fingerprints(schemas=[a]) == {k: v for k, v in before.items() if k.startswith(f"{a}.")}
    with pg.connect() as conn:
        assert conn.execute("SELECT to_regnamespace(%s)", [canary]).fetchone() == (None,)
    # B, which the deploy never changed, keeps what was written after the backup.
    with pg.connect() as conn:
        names = conn.execute(
            sql.SQL("SELECT DISTINCT full_name FROM {}").format(sql.Identifier(b, "sysauth_user"))
        ).fetchall()
    assert names == [("changed after the backup",)]
