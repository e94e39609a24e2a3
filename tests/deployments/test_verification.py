"""Verification compares the database with the declarations and catches each broken invariant."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from psycopg import sql

from deployments.models import CheckResult, VerificationRun
from deployments.services import run_verification, runtime_roles
from deployments.verification import Verifier
from deployments.verification.base import FAIL, PASS
from qiro.db import pg
from qiro.db.roles import role_name
from qiro.expectations import DatabaseTrigger, MonthlyPartitions
from qiro.rls import reapply_for_schema
from sysauth.models import User
from tests.conftest import english, make_company, one_row

from .conftest import owner_execute

PROBE_TRIGGER = "dp_probe_trigger"
PROBE_TABLE = "dp_probe_events"
NO_FORCE = sql.SQL("ALTER TABLE dpvictim.sysauth_user NO FORCE ROW LEVEL SECURITY")
FORCE = sql.SQL("ALTER TABLE dpvictim.sysauth_user FORCE ROW LEVEL SECURITY")


@pytest.fixture(scope="module")
def victim(django_db_setup, django_db_blocker):
    """A company whose schema the tests break (and repair) one invariant at a time."""
    with django_db_blocker.unblock():
        return make_company("dpvictim", "1010111112", "검증 대상").company


def verify() -> list:
    with pg.connect() as conn:
        return Verifier(conn, runtime_roles=runtime_roles()).run(observations=False)


@contextlib.contextmanager
def broken(breaks: sql.Composable, repairs: sql.Composable) -> Iterator[None]:
    """One invariant broken by the owner for the block, repaired after it."""
    owner_execute(breaks)
    try:
        yield
    finally:
        owner_execute(repairs)


def failures(results, check: str) -> dict[str, str]:
    return {r.schema: english(r.found) for r in results if r.check == check and r.outcome == FAIL}


def test_a_healthy_database_passes_every_check(live_db, two_companies, victim):
    results = verify()
    assert [r for r in results if r.outcome == FAIL] == []
    checked = {(r.check, r.schema) for r in results if r.outcome == PASS}
    for schema in ("public", "acme", "beta", "dpvictim"):
        for check in ("migrations", "row_security", "enum_types", "indexes", "constraints"):
            assert (check, schema) in checked


def test_a_dropped_policy_is_caught_in_that_schema_only(live_db, two_companies, victim):
    owner_execute(sql.SQL("DROP POLICY qiro_company_isolation ON dpvictim.sysauth_user"))
    try:
        found = failures(verify(), "row_security")
    finally:
        with pg.connect() as conn:
            reapply_for_schema(conn.cursor(), "dpvictim")
    assert list(found) == ["dpvictim"]
    assert "sysauth_user: policy qiro_company_isolation missing" in found["dpvictim"]


def test_removed_force_is_caught(live_db, two_companies, victim):
    with broken(NO_FORCE, FORCE):
        found = failures(verify(), "row_security")
    assert list(found) == ["dpvictim"]
    assert "sysauth_user: FORCE missing" in found["dpvictim"]


def test_bypassrls_on_the_runtime_role_is_caught(live_db, two_companies):
    app = sql.Identifier(role_name("app"))
    with broken(
        sql.SQL("ALTER ROLE {} BYPASSRLS").format(app),
        sql.SQL("ALTER ROLE {} NOBYPASSRLS").format(app),
    ):
        results = verify()
    roles = [r for r in results if r.check == "roles" and r.outcome == FAIL]
    assert len(roles) == 1
    assert "BYPASSRLS" in english(roles[0].found)
    assert role_name("app") in english(roles[0].found)


def test_an_object_owned_by_the_runtime_role_is_caught(live_db, two_companies):
    app = sql.Identifier(role_name("app"))
    owner_execute(sql.SQL("CREATE TABLE public.dp_owned (id int)"))
    owner_execute(sql.SQL("ALTER TABLE public.dp_owned OWNER TO {}").format(app))
    try:
        results = verify()
    finally:
        owner_execute(sql.SQL("DROP TABLE public.dp_owned"))
    assert any(
        r.check == "roles" and r.outcome == FAIL and " owns " in english(r.found) for r in results
    )


@contextlib.contextmanager
def probe_objects(schemas: list[str]):
    """A trigger and a monthly-partitioned table in every schema, declared on a model."""
    for schema in schemas:
        s = sql.Identifier(schema)
        owner_execute(
            sql.SQL(
                "CREATE TABLE {}.{} (id int, created_at timestamptz NOT NULL) "
                "PARTITION BY RANGE (created_at)"
            ).format(s, sql.Identifier(PROBE_TABLE))
        )
        for offset in (0, 1):
            owner_execute(
                sql.SQL(
                    "CREATE TABLE {}.{} PARTITION OF {}.{} FOR VALUES "
                    "FROM (date_trunc('month', now() AT TIME ZONE 'UTC') "
                    "      + make_interval(months => {})) "
                    "TO (date_trunc('month', now() AT TIME ZONE 'UTC') "
                    "      + make_interval(months => {}))"
                ).format(
                    s,
                    sql.Identifier(f"{PROBE_TABLE}_m{offset}"),
                    s,
                    sql.Identifier(PROBE_TABLE),
                    sql.Literal(offset),
                    sql.Literal(offset + 1),
                )
            )
        owner_execute(
            sql.SQL(
                "CREATE TRIGGER {} BEFORE UPDATE ON {}.sysauth_user "
                "FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()"
            ).format(sql.Identifier(PROBE_TRIGGER), s)
        )
    previous = User.__dict__.get("database_expectations")
    User.database_expectations = (  # type: ignore[attr-defined]
        DatabaseTrigger(PROBE_TRIGGER),
        MonthlyPartitions(table=PROBE_TABLE, ahead=1),
    )
    try:
        yield
    finally:
        if previous is None:
            del User.database_expectations  # type: ignore[attr-defined]
        else:
            User.database_expectations = previous  # type: ignore[attr-defined]
        for schema in schemas:
            s = sql.Identifier(schema)
            owner_execute(
                sql.SQL("DROP TABLE IF EXISTS {}.{}").format(s, sql.Identifier(PROBE_TABLE))
            )
            owner_execute(
                sql.SQL("DROP TRIGGER IF EXISTS {} ON {}.sysauth_user").format(
                    sql.Identifier(PROBE_TRIGGER), s
                )
            )


def all_schemas() -> list[str]:
    with pg.connect() as conn:
        return ["public", *pg.company_schemas(conn)]


def test_declared_triggers_and_partitions_pass_when_present(live_db, two_companies, victim):
    with probe_objects(all_schemas()):
        results = verify()
    assert failures(results, "triggers") == {}
    assert failures(results, "partitions") == {}
    assert {r.schema for r in results if r.check == "triggers" and r.outcome == PASS} >= {
        "public",
        "dpvictim",
    }


def test_a_disabled_trigger_is_caught(live_db, two_companies, victim):
    with probe_objects(all_schemas()):
        owner_execute(
            sql.SQL("ALTER TABLE dpvictim.sysauth_user DISABLE TRIGGER {}").format(
                sql.Identifier(PROBE_TRIGGER)
            )
        )
        found = failures(verify(), "triggers")
    assert found == {"dpvictim": f"sysauth_user.{PROBE_TRIGGER}: disabled"}


def test_a_dropped_next_month_partition_is_caught(live_db, two_companies, victim):
    with probe_objects(all_schemas()):
        owner_execute(sql.SQL("DROP TABLE dpvictim.{}").format(sql.Identifier(f"{PROBE_TABLE}_m1")))
        found = failures(verify(), "partitions")
    assert list(found) == ["dpvictim"]
    assert found["dpvictim"].startswith(f"{PROBE_TABLE}: no partition for ")


def test_orphan_schema_and_unapplied_migration_are_caught(live_db, two_companies, victim):
    owner_execute(sql.SQL("CREATE SCHEMA dp_orphan"))
    with pg.connect() as conn:
        row = one_row(
            conn,
            "DELETE FROM dpvictim.django_migrations WHERE app = 'sysauth' "
            "AND name = '0001_initial' RETURNING app, name, applied",
        )
    try:
        results = verify()
    finally:
        owner_execute(sql.SQL("DROP SCHEMA dp_orphan"))
        owner_execute(
            "INSERT INTO dpvictim.django_migrations (app, name, applied) VALUES (%s, %s, %s)",
            list(row),
        )
    assert failures(results, "schemas") == {"dp_orphan": "no company"}
    assert "sysauth.0001_initial" in failures(results, "migrations")["dpvictim"]


def test_a_changed_enum_is_caught(live_db, two_companies, victim):
    with broken(
        sql.SQL("ALTER TYPE dpvictim.user_type RENAME VALUE 'member' TO 'dp_member'"),
        sql.SQL("ALTER TYPE dpvictim.user_type RENAME VALUE 'dp_member' TO 'member'"),
    ):
        found = failures(verify(), "enum_types")
    assert list(found) == ["dpvictim"]
    assert "user_type" in found["dpvictim"]


def test_a_run_is_stored_with_failures_first_and_the_command_exits_non_zero(
    platform, two_companies, victim
):
    with broken(NO_FORCE, FORCE):
        run = run_verification()
        with pytest.raises(SystemExit) as exit_info:
            call_command("verify", "--no-observations")
    assert exit_info.value.code == 1
    assert run.status == VerificationRun.Status.FAILED
    assert run.failed == 1
    stored = run.results.get(outcome=CheckResult.Outcome.FAIL)
    assert (stored.check_name, stored.schema_name) == ("row_security", "dpvictim")
    assert run.results.filter(outcome=CheckResult.Outcome.INFO).exists()
    call_command("verify", "--no-observations")  # repaired: exits 0


def test_a_runtime_role_right_on_an_owner_only_table_is_caught(live_db, two_companies, victim):
    app = sql.Identifier(role_name("app"))
    owner_execute(sql.SQL("GRANT INSERT ON dpvictim.django_migrations TO {}").format(app))
    try:
        found = failures(verify(), "privileges")
    finally:
        owner_execute(sql.SQL("REVOKE ALL ON dpvictim.django_migrations FROM {}").format(app))
    assert list(found) == ["dpvictim"]
    assert "django_migrations" in found["dpvictim"]
