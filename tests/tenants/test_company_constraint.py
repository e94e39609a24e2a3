"""Each company-keyed table of a company's schema accepts only that company's id.

Applied by ``qiro.db.secure.secure_schema`` on every path that readies a
schema, re-applied after every migration of a company schema, and checked by
the verification (``deployments/verification/company_constraint.py``).
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connections
from psycopg import sql

from deployments.services import runtime_roles
from deployments.verification import Verifier
from deployments.verification.base import FAIL, PASS
from qiro.db import pg
from qiro.db.secure import (
    COMPANY_ONLY_CONSTRAINT,
    company_keyed_tables,
    company_only_definition,
    restrict_to_company,
    secure_schema,
    unrestricted_tables,
)
from tenants import provisioning, schema_pool
from tests.conftest import english


def constraints(schema: str) -> dict[str, str]:
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND k.conname = %s",
            [schema, COMPANY_ONLY_CONSTRAINT],
        )
        return dict(cursor.fetchall())


def owner(statement: str) -> None:
    with connections["owner"].cursor() as cursor:
        cursor.execute(statement)


def company_check(schema: str) -> tuple[str, str]:
    with pg.connect() as conn:
        results = Verifier(conn, runtime_roles=runtime_roles()).run(observations=False)
    (result,) = [r for r in results if r.check == "company_constraint" and r.schema == schema]
    return result.outcome, english(result.found)


def test_every_company_keyed_table_accepts_only_its_company(live_db, two_companies):
    a, b = two_companies
    for company in (a.company, b.company):
        expected = {
            table: company_only_definition(column, company.pk)
            for table, column in company_keyed_tables().items()
        }
        assert constraints(company.schema_name) == expected
    assert len(expected) >= 5  # users, sessions, roles, role permissions, assignments, …


def test_pool_schemas_have_no_company_and_no_constraint(live_db):
    (name,) = schema_pool.fill_schema_pool(size=1)
    assert constraints(name) == {}


def test_securing_again_changes_nothing(live_db, two_companies):
    a, _ = two_companies
    with connections["owner"].cursor() as cursor:
        secure_schema(cursor, schema_name=a.company.schema_name)
        assert restrict_to_company(cursor, schema_name=a.company.schema_name) == 0


def test_a_migration_run_restores_a_missing_constraint(live_db, two_companies):
    """What a migration adds (or loses) gets the constraint in the post_migrate re-apply."""
    a, _ = two_companies
    schema = a.company.schema_name
    owner(f"ALTER TABLE {schema}.sysauth_session DROP CONSTRAINT {COMPANY_ONLY_CONSTRAINT}")
    assert "sysauth_session" not in constraints(schema)
    call_command("migrate_schemas", schema_name=schema, interactive=False, verbosity=0)
    assert "sysauth_session" in constraints(schema)


def test_provisioning_refuses_a_schema_whose_tables_accept_other_ids(live_db, two_companies):
    a, b = two_companies
    with connections["owner"].cursor() as cursor:
        provisioning.verify_schema(cursor, a.company.schema_name, company_id=a.company.pk)
        with pytest.raises(provisioning.ProvisioningError, match="accept rows of other"):
            provisioning.verify_schema(cursor, a.company.schema_name, company_id=b.company.pk)


def test_verification_passes_then_names_each_table_that_accepts_other_ids(live_db, two_companies):
    a, b = two_companies
    schema = a.company.schema_name
    assert company_check(schema)[0] == PASS
    table = sql.Identifier(schema, "sysauth_role").as_string(None)
    try:
        owner(f"ALTER TABLE {table} DROP CONSTRAINT {COMPANY_ONLY_CONSTRAINT}")
        outcome, found = company_check(schema)
        assert (outcome, found) == (FAIL, f"sysauth_role: {COMPANY_ONLY_CONSTRAINT} missing")
        # Present and validated, but letting B's rows in as well.
        owner(
            f"ALTER TABLE {table} ADD CONSTRAINT {COMPANY_ONLY_CONSTRAINT} "
            f"CHECK (company_id = '{a.company.pk}'::bigint "
            f"OR company_id = '{b.company.pk}'::bigint)"
        )
        outcome, found = company_check(schema)
        assert outcome == FAIL
        assert f"'{b.company.pk}'::bigint" in found
        # B's id alone, not validated.
        owner(f"ALTER TABLE {table} DROP CONSTRAINT {COMPANY_ONLY_CONSTRAINT}")
        owner(
            f"ALTER TABLE {table} ADD CONSTRAINT {COMPANY_ONLY_CONSTRAINT} "
            f"CHECK (company_id = '{b.company.pk}'::bigint) NOT VALID"
        )
        outcome, found = company_check(schema)
        assert outcome == FAIL
        assert "not validated" in found
    finally:
        with connections["owner"].cursor() as cursor:
            restrict_to_company(cursor, schema_name=schema)
            assert unrestricted_tables(cursor, schema_name=schema, company_id=a.company.pk) == []
    assert company_check(schema)[0] == PASS
    assert company_check(b.company.schema_name)[0] == PASS
