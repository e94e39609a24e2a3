"""The isolation attack matrix, run as the runtime role with company A's context.

Each attack returns findings: B's rows that reached A (a breach) or A's own
rows that A could not see (the positive control, which fails when a policy is
missing and everything is denied). No findings means the walls held. The
same functions run against deliberately weakened walls to prove they can fail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from django.db import DatabaseError, connections, transaction
from psycopg import sql

from qiro import tenant_context
from sysauth.models import User
from tenants.models import Company, Domain
from tests.conftest import CompanyWithUsers

Attack = Callable[[CompanyWithUsers, CompanyWithUsers], list[str]]
ATTACKS: dict[str, Attack] = {}


def attack(label: str) -> Callable[[Attack], Attack]:
    def register(fn: Attack) -> Attack:
        ATTACKS[label] = fn
        return fn

    return register


def emails(c: CompanyWithUsers) -> set[str]:
    return {c.owner.email, c.member.email}


def query(statement: str | sql.Composable, params: Sequence[Any] | None = None) -> set[str] | None:
    """First column of the last statement's rows, as the runtime role; None when refused."""
    with connections["default"].cursor() as cursor:
        try:
            with transaction.atomic(
                using="default"
            ):  # a refusal must not abort the caller's transaction
                cursor.execute(statement, params)
        except DatabaseError:
            return None
        rows: set[str] = set()
        while True:  # the rows of the last statement that returns any
            if cursor.description is not None:
                rows = {row[0] for row in cursor.fetchall()}
            if not cursor.cursor.nextset():
                return rows


def rows_changed(
    statement: str | sql.Composable, params: Sequence[Any] | None = None
) -> int | None:
    with connections["default"].cursor() as cursor:
        try:
            with transaction.atomic(using="default"):
                cursor.execute(statement, params)
                return cursor.rowcount
        except DatabaseError:
            return None


def judge(label: str, seen: set[str] | None, a: CompanyWithUsers, b: CompanyWithUsers,
          control: bool = True) -> list[str]:  # fmt: skip
    findings = []
    if seen and seen & emails(b):
        findings.append(f"{label}: B's rows reached A: {sorted(seen & emails(b))}")
    if control and not (seen and emails(a) <= seen):
        findings.append(f"{label}: A cannot see its own rows (control)")
    return findings


def users_of(company: CompanyWithUsers) -> sql.Composed:
    return sql.SQL("SELECT email FROM {}").format(
        sql.Identifier(company.company.schema_name, "sysauth_user")
    )


@attack("a: ORM queries")
def orm_queries(a: CompanyWithUsers, b: CompanyWithUsers) -> list[str]:
    findings = judge("a/users", set(User.objects.values_list("email", flat=True)), a, b)
    findings += judge("a/lookup", set(User.objects.filter(email__in=emails(b)).values_list(
        "email", flat=True)), a, b, control=False)  # fmt: skip
    companies = set(Company.objects.values_list("pk", flat=True))
    if companies != {a.company.pk}:
        findings.append(f"a/companies: A sees companies {sorted(companies)}")
    domains = set(Domain.objects.values_list("tenant_id", flat=True))
    if domains != {a.company.pk}:
        findings.append(f"a/domains: A sees domains of {sorted(domains)}")
    return findings


@attack("b: raw SQL naming B's schema")
def raw_sql_other_schema(a: CompanyWithUsers, b: CompanyWithUsers) -> list[str]:
    return judge("b/other", query(users_of(b)), a, b, control=False) + judge(
        "b/own", query(users_of(a)), a, b
    )


@attack("c: SET search_path to B's schema")
def search_path_switch(a: CompanyWithUsers, b: CompanyWithUsers) -> list[str]:
    findings = []
    b_path = sql.SQL("SET search_path TO {}; SELECT email FROM sysauth_user").format(
        sql.Identifier(b.company.schema_name)
    )
    findings += judge("c/one-statement", query(b_path), a, b, control=False)
    with transaction.atomic(using="default"):
        query(sql.SQL("SET search_path TO {}").format(sql.Identifier(b.company.schema_name)))
        findings += judge("c/in-transaction", query("SELECT email FROM sysauth_user"), a, b,
                          control=False)  # fmt: skip
    query("RESET search_path")
    return findings


@attack("d: writes with B's company id")
def writes_into_b(a: CompanyWithUsers, b: CompanyWithUsers) -> list[str]:
    findings = []
    b_id, a_schema, b_schema = b.company.pk, a.company.schema_name, b.company.schema_name
    insert = "INSERT INTO {} (password, email, full_name, user_type, is_active, is_staff, " \
             "is_superuser, date_joined, company_id) VALUES ('!', %s, 'x', 'member', true, " \
             "false, false, now(), %s) RETURNING email"  # fmt: skip
    for schema in (b_schema, a_schema):
        table = sql.Identifier(schema, "sysauth_user")
        if query(sql.SQL(insert).format(table), [f"intruder@{schema}.kr", b_id]) is not None:
            findings.append(f"d/insert: a row with B's company id was written into {schema}")
    changed = rows_changed(sql.SQL("UPDATE {} SET full_name = 'pwned'").format(
        sql.Identifier(b_schema, "sysauth_user")))  # fmt: skip
    if changed:
        findings.append(f"d/update: {changed} of B's rows updated")
    changed = rows_changed(
        sql.SQL("DELETE FROM {}").format(sql.Identifier(b_schema, "sysauth_user"))
    )
    if changed:
        findings.append(f"d/delete: {changed} of B's rows deleted")
    moved = rows_changed(
        sql.SQL("UPDATE {} SET company_id = %s WHERE email = %s").format(
            sql.Identifier(a_schema, "sysauth_user")
        ),
        [b_id, a.member.email],
    )
    if moved:
        findings.append("d/move: one of A's rows was handed to B")
    try:
        with transaction.atomic(using="default"):
            User.objects.create(email="orm-intruder@example.kr", company_id=b_id)
        findings.append("d/orm: the ORM wrote a row with B's company id")
    except DatabaseError:
        pass
    if rows_changed("UPDATE tenants_company SET name = 'pwned' WHERE id = %s", [b_id]):
        findings.append("d/company: A renamed company B")
    return findings


@attack("e: no context at all")
def no_context(a: CompanyWithUsers, b: CompanyWithUsers) -> list[str]:
    previous = (tenant_context.current_alias(), tenant_context.current_context())
    tenant_context.clear()
    try:
        findings = []
        for company in (a, b):
            seen = query(users_of(company))
            if seen:
                findings.append(f"e/{company.company.schema_name}: rows seen without context")
        if query("SELECT name FROM tenants_company"):
            findings.append("e/companies: companies listed without context")
        if query("SELECT email FROM sysauth_user"):  # public: platform staff only
            findings.append("e/public-users: user rows seen without context")
        return findings
    finally:
        tenant_context.activate(previous[1], previous[0])


@attack("f: SET ROLE / RESET ROLE to the owner")
def role_switch(a: CompanyWithUsers, b: CompanyWithUsers) -> list[str]:
    findings = []
    owner = connections["owner"].settings_dict["USER"]
    platform = connections["platform"].settings_dict["USER"]
    for statement in (
        sql.SQL("SET ROLE {}").format(sql.Identifier(owner)),
        sql.SQL("SET ROLE {}").format(sql.Identifier(platform)),
        sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(owner)),
    ):
        if query(sql.SQL("{}; SELECT current_user").format(statement)) is not None:
            findings.append(f"f: {statement.as_string(None)} was allowed")
    after_reset = query("RESET ROLE; SELECT current_user::text")
    if after_reset != {connections["default"].settings_dict["USER"]}:
        findings.append(f"f: RESET ROLE left the session as {after_reset}")
    findings += judge("f/after", query(users_of(b)), a, b, control=False)
    return findings


def run_attack_matrix(a: CompanyWithUsers, b: CompanyWithUsers) -> list[str]:
    """Every attack, inside one transaction that is rolled back: a successful
    attack on a weakened wall must not destroy the data later tests need."""
    findings: list[str] = []
    with tenant_context.company_context(a.company), transaction.atomic(using="default"):
        for label, fn in ATTACKS.items():
            findings += [f"[{label}] {f}" for f in fn(a, b)]
        transaction.set_rollback(True, using="default")
    return findings


def findings_while(
    weakening: AbstractContextManager[None], a: CompanyWithUsers, b: CompanyWithUsers
) -> list[str]:
    """The matrix's findings while a wall is weakened; once it is restored, it finds nothing."""
    with weakening:
        findings = run_attack_matrix(a, b)
    restored = run_attack_matrix(a, b)
    assert restored == [], restored
    return findings
