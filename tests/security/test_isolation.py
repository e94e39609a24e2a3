"""Company A, acting as the runtime role, must never see or change company B's rows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from django.db import connections
from psycopg import sql

from qiro import tenant_context
from tests.security.attacks import ATTACKS, findings_while, run_attack_matrix


def test_runtime_role_is_the_one_attacked(live_db, two_companies):
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)


@pytest.mark.parametrize("label", list(ATTACKS))
def test_attack_is_stopped(live_db, two_companies, label):
    a, b = two_companies
    with tenant_context.company_context(a.company):
        findings = ATTACKS[label](a, b)
    assert findings == []


def test_attacks_from_b_towards_a_are_stopped_too(live_db, two_companies):
    a, b = two_companies
    assert run_attack_matrix(b, a) == []


@contextlib.contextmanager
def weakened(schema: str, statement: str) -> Iterator[None]:
    """Commit a weakening of B's user table as the owner; restore the wall afterwards."""
    from qiro.rls import reapply_for_schema

    table = sql.Identifier(schema, "sysauth_user")
    with connections["owner"].cursor() as cursor:
        cursor.execute(sql.SQL(statement).format(table=table))
    try:
        yield
    finally:
        with connections["owner"].cursor() as cursor:
            reapply_for_schema(cursor, schema)


def test_matrix_fails_when_row_security_is_disabled_on_b(live_db, two_companies):
    """Proof the matrix can fail: with B's RLS off, raw SQL reads B's users."""
    a, b = two_companies
    findings = findings_while(
        weakened(b.company.schema_name, "ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"), a, b
    )
    assert any("B's rows reached A" in f for f in findings), findings


def test_matrix_fails_when_the_policy_is_dropped(live_db, two_companies):
    """Without the policy everything is denied: the positive control reports it."""
    a, b = two_companies
    findings = findings_while(
        weakened(b.company.schema_name, "DROP POLICY qiro_company_isolation ON {table}"), b, a
    )
    assert any("cannot see its own rows" in f for f in findings), findings
