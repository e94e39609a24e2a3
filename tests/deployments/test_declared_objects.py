"""Declared database objects are verified exactly: each kind changed by the owner is named.

Each test changes one object in a company's schema (or ``public``) as the
owner, as a careless hand or a stale script would, sees verification name
the object and what happened to it, and repairs it the way the code does
(``secure_schema``, or the declared definition).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg import sql

from deployments.services import runtime_roles
from deployments.verification import Verifier
from deployments.verification.base import FAIL
from qiro.db import pg
from qiro.db.citus import is_citus
from qiro.db.roles import role_name
from qiro.db.secure import secure_schema
from qiro.rls import enable_statements
from tenants.validators import brn_check_digit
from tests.conftest import english, make_company

from .conftest import owner_execute

SCHEMA = "dpdeclared"
HASHED_KINDS = ("policies", "triggers", "grants", "definer_functions", "signup_policies")


@pytest.fixture(scope="module")
def company(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return make_company(SCHEMA, f"202020202{brn_check_digit('202020202')}", "선언 검증")


def failures(check: str) -> dict[str, str]:
    with pg.connect() as conn:
        results = Verifier(conn, runtime_roles=runtime_roles()).run_check(check)
    return {r.schema: english(r.found) for r in results if r.outcome == FAIL}


def reported_for_the_schema(check: str) -> str:
    """What one check reports, which must be about this module's company schema alone."""
    found = failures(check)
    assert list(found) == [SCHEMA]
    return found[SCHEMA]


@pytest.fixture
def resecured(company) -> Iterator[None]:
    """After the test, the schema is secured again as provisioning does."""
    yield
    with pg.connect() as conn, conn.cursor() as cursor:
        secure_schema(cursor, schema_name=SCHEMA)


@pytest.mark.parametrize("check", HASHED_KINDS)
def test_a_clean_database_verifies_clean(live_db, company, check):
    assert failures(check) == {}


def test_a_changed_policy_expression_is_named(live_db, company, resecured):
    owner_execute(
        sql.SQL("ALTER POLICY qiro_company_isolation ON {} USING (company_id IS NOT NULL)").format(
            sql.Identifier(SCHEMA, "sysauth_role")
        )
    )
    found = reported_for_the_schema("policies")
    assert "sysauth_role.qiro_company_isolation: changed since it was installed" in found
    assert "company_id IS NOT NULL" in found


def test_a_policy_in_the_other_servers_form_is_named(live_db, company, resecured):
    """The declaration follows the server: Citus's per-row form is not plain PostgreSQL's."""
    with pg.connect() as conn, conn.cursor() as cursor:
        if is_citus(cursor):
            pytest.skip(
                "Citus refuses the sub-select form in a distributed table's policy, "
                "so the other server's form cannot be installed there"
            )
        for statement in enable_statements(
            "sysauth_role", "company_id", None, in_public=False, schema=SCHEMA, citus=True
        ):
            cursor.execute(statement)
    assert (
        "sysauth_role.qiro_company_isolation: installed from another declaration than the code's"
        in reported_for_the_schema("policies")
    )


def test_a_policy_made_by_hand_without_the_declaration_is_named(live_db, company, resecured):
    target = sql.Identifier(SCHEMA, "sysauth_user")
    owner_execute(sql.SQL("DROP POLICY qiro_company_isolation ON {}").format(target))
    owner_execute(
        sql.SQL(
            "CREATE POLICY qiro_company_isolation ON {} USING "
            "(company_id = NULLIF(current_setting('qiro.company_id', true), '')::bigint)"
        ).format(target)
    )
    found = failures("policies")
    assert "sysauth_user.qiro_company_isolation: installed without" in found[SCHEMA]


def test_a_changed_trigger_is_named(live_db, company, resecured):
    owner_execute(
        sql.SQL(
            "CREATE OR REPLACE TRIGGER record_role_permissions_change AFTER INSERT ON {} "
            "FOR EACH ROW EXECUTE FUNCTION {}()"
        ).format(
            sql.Identifier(SCHEMA, "sysauth_userrole"),
            sql.Identifier(SCHEMA, "record_role_permissions_change"),
        )
    )
    assert (
        "sysauth_userrole.record_role_permissions_change: changed since it was installed"
        in reported_for_the_schema("triggers")
    )


def test_a_changed_trigger_function_body_is_named_on_both_tables(live_db, company, resecured):
    owner_execute(
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RETURN NULL; END $$"
        ).format(sql.Identifier(SCHEMA, "record_role_permissions_change"))
    )
    found = failures("triggers")[SCHEMA]
    for table in ("sysauth_rolepermission", "sysauth_userrole"):
        assert f"{table}.record_role_permissions_change: changed since" in found


def test_a_missing_trigger_is_named(live_db, company, resecured):
    owner_execute(
        sql.SQL("DROP TRIGGER record_role_permissions_change ON {}").format(
            sql.Identifier(SCHEMA, "sysauth_rolepermission")
        )
    )
    assert (
        "sysauth_rolepermission.record_role_permissions_change: missing"
        in (failures("triggers")[SCHEMA])
    )


def test_a_widened_grant_is_named(live_db, company, resecured):
    app = role_name("app")
    owner_execute(
        sql.SQL("GRANT UPDATE, TRUNCATE ON {} TO {}").format(
            sql.Identifier(SCHEMA, "sysauth_rolepermissionhistory"), sql.Identifier(app)
        )
    )
    assert (
        f"sysauth_rolepermissionhistory: {app} has more than declared: TRUNCATE, UPDATE"
        == reported_for_the_schema("grants")
    )


def test_a_missing_grant_is_named(live_db, company, resecured):
    app = role_name("app")
    owner_execute(
        sql.SQL("REVOKE SELECT ON {} FROM {}").format(
            sql.Identifier(SCHEMA, "sysauth_role"), sql.Identifier(app)
        )
    )
    assert failures("grants") == {SCHEMA: f"sysauth_role: {app} lacks declared SELECT"}


def test_a_changed_function_body_is_named(live_db):
    signature = "public.qiro_forget_old_login_failures()"
    with pg.connect() as conn:
        row = conn.execute("SELECT pg_get_functiondef(%s::regprocedure)", [signature]).fetchone()
        assert row is not None
        definition = row[0]
        conn.execute(definition.replace("RETURN forgotten;", "RETURN forgotten + 1;"))
        try:
            found = {
                english(r.expected).split(":")[0]: english(r.found)
                for r in Verifier(conn, runtime_roles=runtime_roles()).run_check(
                    "definer_functions"
                )
                if r.outcome == FAIL
            }
        finally:
            conn.execute(definition)
    assert found == {
        "qiro_forget_old_login_failures()": (
            "qiro_forget_old_login_failures(): body differs from the declared one"
        )
    }
