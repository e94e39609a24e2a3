"""The third wall: company B's schema holds only B's rows, whatever A's context lets through.

Row security checks a written row against the transaction's company, so in
A's context a row carrying A's own id passes it, even into B's schema. Each
attack below runs as the runtime role in A's context; the company-only
constraint of B's tables must refuse it, and must refuse it the same way
whether or not B holds a row with the same unique key (no oracle). The last
test removes the constraint and shows the attack then succeeds, so these
tests fail when the wall is missing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
import pytest
from django.db import DatabaseError, connections, transaction
from psycopg import sql

from qiro import tenant_context
from qiro.db import pg
from qiro.db.secure import COMPANY_ONLY_CONSTRAINT, restrict_to_company
from tests.conftest import CompanyWithUsers

USER_COLUMNS = (
    "password, company_id, email, full_name, user_type, is_active, is_staff, is_superuser, "
    "date_joined"
)


def insert_user(schema: str, company_id: int, email: str) -> sql.Composed:
    return sql.SQL(
        "INSERT INTO {} (" + USER_COLUMNS + ") "
        "VALUES ('!', {}, {}, 'x', 'member', true, false, false, now())"
    ).format(sql.Identifier(schema, "sysauth_user"), sql.Literal(company_id), sql.Literal(email))


def insert_role(schema: str, company_id: int, name: str) -> sql.Composed:
    return sql.SQL(
        "INSERT INTO {} (company_id, name, label, description, created_at) "
        "VALUES ({}, {}, '', '', now())"
    ).format(sql.Identifier(schema, "sysauth_role"), sql.Literal(company_id), sql.Literal(name))


def refusal(statement: sql.Composable) -> str | None:
    """Run as the runtime role; the error's text if refused, None if the row was written."""
    with connections["default"].cursor() as cursor:
        try:
            with transaction.atomic(using="default"):
                cursor.execute(statement)
        except DatabaseError as error:
            return str(error)
    return None


def assert_refused_by_the_constraint(error: str | None) -> None:
    assert error is not None, "the row was written"
    assert COMPANY_ONLY_CONSTRAINT in error, error


def planted(schema: str, table: str, column: str, value: str) -> int:
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
                sql.Identifier(schema, table), sql.Identifier(column)
            ),
            [value],
        )
        return int(cursor.fetchone()[0])


def test_the_runtime_role_is_refused_a_row_of_a_in_b_schema(live_db, two_companies):
    """Attack: in A's context, INSERT into beta.sysauth_user a user carrying A's own id."""
    a, b = two_companies
    schema = b.company.schema_name
    with tenant_context.company_context(a.company):
        error = refusal(insert_user(schema, a.company.pk, "intruder@acme.example.kr"))
    assert_refused_by_the_constraint(error)
    assert planted(schema, "sysauth_user", "email", "intruder@acme.example.kr") == 0


def test_the_refusal_is_the_same_for_a_taken_and_a_free_email(live_db, two_companies):
    """Attack: B's unique e-mail index as an oracle (does B have this user?) and a blocker."""
    a, b = two_companies
    schema = b.company.schema_name
    with tenant_context.company_context(a.company):
        taken = refusal(insert_user(schema, a.company.pk, b.member.email))
        free = refusal(insert_user(schema, a.company.pk, "nobody-here@beta.example.kr"))
    assert_refused_by_the_constraint(taken)
    assert_refused_by_the_constraint(free)


def test_a_role_of_a_cannot_be_written_into_b_schema(live_db, two_companies):
    """Attack: in A's context, a role row with A's id in B's schema (for a later assignment)."""
    a, b = two_companies
    with tenant_context.company_context(a.company):
        error = refusal(insert_role(b.company.schema_name, a.company.pk, "planted-role"))
    assert_refused_by_the_constraint(error)


def test_a_can_still_write_its_own_rows_in_its_own_schema(live_db, two_companies):
    """The positive control: the constraint refuses other ids only."""
    a, _ = two_companies
    schema = a.company.schema_name
    with tenant_context.company_context(a.company), transaction.atomic(using="default"):
        assert refusal(insert_role(schema, a.company.pk, "own-role")) is None
        transaction.set_rollback(True, using="default")


@contextlib.contextmanager
def without_the_constraint(company: CompanyWithUsers, table: str) -> Iterator[None]:
    schema = company.company.schema_name
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(schema, table), sql.Identifier(COMPANY_ONLY_CONSTRAINT)
            )
        )
    try:
        yield
    finally:
        with connections["owner"].cursor() as cursor:
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE company_id <> %s").format(
                    sql.Identifier(schema, table)
                ),
                [company.company.pk],
            )
            restrict_to_company(cursor, schema_name=schema)


def test_without_the_constraint_the_attack_succeeds(live_db, two_companies):
    """Proof the attacks above can fail: with B's constraint dropped, A's row lands in B."""
    a, b = two_companies
    schema = b.company.schema_name
    with without_the_constraint(b, "sysauth_user"):
        with tenant_context.company_context(a.company):
            assert refusal(insert_user(schema, a.company.pk, "intruder@acme.example.kr")) is None
            oracle = refusal(insert_user(schema, a.company.pk, b.member.email))
        assert planted(schema, "sysauth_user", "email", "intruder@acme.example.kr") == 1
        assert oracle is not None
        assert "unique" in oracle.lower()
    assert planted(schema, "sysauth_user", "email", "intruder@acme.example.kr") == 0
    with tenant_context.company_context(a.company):
        assert refusal(insert_user(schema, a.company.pk, "intruder@acme.example.kr")) is not None


def test_even_the_owner_cannot_plant_a_row_of_another_company(live_db, two_companies):
    """The constraint binds every role, the owner (which bypasses row security) included."""
    a, b = two_companies
    with pg.connect() as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(insert_user(b.company.schema_name, a.company.pk, "by-owner@acme.example.kr"))
