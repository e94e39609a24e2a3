"""Both walls on every sysauth table: attacks as the runtime role with company A's context.

Each attack reads B's rows by naming B's schema, or by pointing search_path at
it; the row policy must return none of B's rows, while A still sees its own
(the control). The platform role may not even reach a company schema.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connections, transaction
from psycopg import sql

from qiro import tenant_context
from qiro.rls import protected_models
from sysauth import login_throttle, tokens
from sysauth.sessions.base import ClientInfo
from sysauth.sessions.db import SessionStore

TABLES = sorted(
    m._meta.db_table
    for m in protected_models()
    if m._meta.app_label == "sysauth" and m._meta.db_table != "sysauth_user"
)


def _fill(company) -> None:
    """At least one row of each table in the company (roles and history come with it)."""
    with tenant_context.company_context(company.company):
        store = SessionStore(None, client=ClientInfo("192.0.2.1", "test"))
        store["_auth_user_id"] = str(company.member.pk)
        store.create()
        login_throttle.record_login_failure(email="someone@example.kr", ip_address="192.0.2.1")
        tokens.issue_token(user=company.member, name="isolation", acting_user=company.member)


def _company_ids(statement: sql.Composable, alias: str = "default") -> set[int] | None:
    """company_id of the rows the last statement returns; None when refused."""
    with connections[alias].cursor() as cursor:
        try:
            with transaction.atomic(using=alias):
                cursor.execute(statement)
                rows: set[int] = set()
                while True:
                    if cursor.description is not None:
                        rows = {row[0] for row in cursor.fetchall()}
                    if not cursor.cursor.nextset():
                        return rows
        except DatabaseError:
            return None


def _seen_by(company, statement: sql.Composable) -> set[int] | None:
    """``_company_ids`` of a statement run as the runtime role in the company's context."""
    with tenant_context.company_context(company.company):
        return _company_ids(statement)


@pytest.fixture(scope="module")
def filled(django_db_setup, django_db_blocker, company, other_company):
    with django_db_blocker.unblock():
        _fill(company)
        _fill(other_company)
        tenant_context.clear()
    return company, other_company


def test_every_sysauth_company_table_is_attacked():
    assert set(TABLES) >= {
        "sysauth_session",
        "sysauth_role",
        "sysauth_rolepermission",
        "sysauth_userrole",
        "sysauth_rolepermissionhistory",
        "sysauth_loginfailure",
        "sysauth_apitoken",
    }


@pytest.mark.parametrize("table", TABLES)
def test_a_never_reads_b_by_naming_b_schema(live_db, filled, table):
    a, b = filled
    own = _seen_by(a, sql.SQL("SELECT company_id FROM {}").format(sql.Identifier(table)))
    foreign = _seen_by(
        a, sql.SQL("SELECT company_id FROM {}").format(sql.Identifier(b.company.schema_name, table))
    )
    assert own == {a.company.pk}  # control: A's own rows are there
    assert not foreign, f"B's rows of {table} reached A"


@pytest.mark.parametrize("table", TABLES)
def test_a_never_reads_b_through_a_wrong_search_path(live_db, filled, table):
    a, b = filled
    seen = _seen_by(
        a,
        sql.SQL("SET LOCAL search_path TO {}; SELECT company_id FROM {}").format(
            sql.Identifier(b.company.schema_name), sql.Identifier(table)
        ),
    )
    assert not seen


@pytest.mark.parametrize("table", TABLES)
def test_a_cannot_write_rows_into_b(live_db, filled, table):
    a, b = filled
    changed = _seen_by(
        a,
        sql.SQL("UPDATE {} SET company_id = company_id RETURNING company_id").format(
            sql.Identifier(b.company.schema_name, table)
        ),
    )
    assert not changed


@pytest.mark.parametrize("table", TABLES)
def test_the_platform_role_cannot_reach_company_rows(live_db, filled, table):
    a, _ = filled
    with tenant_context.platform_context():
        seen = _company_ids(
            sql.SQL("SELECT company_id FROM {}").format(
                sql.Identifier(a.company.schema_name, table)
            ),
            alias="platform",
        )
    assert not seen


def test_the_attack_finds_b_rows_when_the_row_wall_is_removed(live_db, filled):
    """The attack above can fail: with B's policy disabled, B's sessions do reach A."""
    from qiro.rls import reapply_for_schema

    a, b = filled
    target = sql.Identifier(b.company.schema_name, "sysauth_session")
    with connections["owner"].cursor() as cursor:
        cursor.execute(sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(target))
    try:
        foreign = _seen_by(a, sql.SQL("SELECT company_id FROM {}").format(target))
    finally:
        with connections["owner"].cursor() as cursor:
            reapply_for_schema(cursor, b.company.schema_name)
    assert foreign
    assert b.company.pk in foreign
