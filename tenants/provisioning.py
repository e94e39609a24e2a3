"""Provisioning a company in milliseconds, all-or-nothing.

Steps (each a function below, so a test can make any of them fail):

1. ``prepare_schema``   rename a ready pool schema (``tenants.schema_pool``) to the
                        company's name, or build one with migrations if the pool is empty;
2. in one owner transaction: ``reapply_for_schema`` (row security),
   ``apply_company_schema_grants``, ``verify_schema`` (refuses a schema whose
   tables lack ENABLE/FORCE/policy or that the runtime role cannot use), then
   ``create_company_rows`` (company in status ``provisioning`` and its domain);
3. ``create_first_administrator`` as the runtime role inside the company's context;
4. ``activate`` in one owner transaction: status ``active``, kept figures, and the
   caller's own bookkeeping (``on_activate``, e.g. the application's status).

A failure at any step undoes the earlier ones (rows deleted, schema dropped),
so there is never an orphan schema nor an active company without its schema
and administrator, and the same call can simply be made again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from psycopg import sql

from qiro import rls
from qiro.db.roles import apply_company_schema_grants, role_name
from qiro.rls import reapply_for_schema
from qiro.tenant_context import OWNER_ALIAS, company_context, owner_context
from sysauth import services as sysauth_services
from tenants import schema_pool
from tenants.models import Company, Domain


class ProvisioningError(Exception):
    """A provisioning step found the new schema unfit; nothing was kept."""


@dataclass(frozen=True)
class FirstAdministrator:
    email: str
    full_name: str
    password_hash: str  # from django.contrib.auth.hashers.make_password; never a password


@dataclass
class ProvisioningTimings:
    """Milliseconds per step of the last provisioning (for benchmarks and logs)."""

    steps: dict[str, float] = field(default_factory=dict)
    from_pool: bool = False


def prepare_schema(schema_name: str) -> bool:
    """Make ``schema_name`` exist with every company table; True if it came from the pool."""
    connection = connections[OWNER_ALIAS]
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    with transaction.atomic(using=OWNER_ALIAS), connection.cursor() as cursor:
        if schema_pool.take_schema(cursor, schema_name):
            return True
    try:
        schema_pool.build_schema_with_migrations(schema_name)
    except BaseException:
        schema_pool.drop_schema(schema_name)
        raise
    return False


class StatementBatch:
    """A cursor that sends parameterless statements together, in one round trip.

    Wraps the owner's cursor around ``reapply_for_schema`` and
    ``apply_company_schema_grants``, which issue dozens of DDL statements
    (``psycopg.sql`` objects without parameters). A statement with parameters
    or any fetch first sends what is pending, so order and errors are kept.
    """

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.pending: list[sql.Composable] = []

    def execute(self, statement: Any, params: Any = None) -> None:
        if params is None and isinstance(statement, sql.Composable):
            self.pending.append(statement)
            return
        self.flush()
        self.cursor.execute(statement, params)

    def flush(self) -> None:
        if self.pending:
            batch, self.pending = sql.SQL("; ").join(self.pending), []
            self.cursor.execute(batch)

    def fetchone(self) -> Any:
        self.flush()
        return self.cursor.fetchone()

    def fetchall(self) -> Any:
        self.flush()
        return self.cursor.fetchall()


def company_tables() -> set[str]:
    """Tables every company schema must hold with row security (declared on the models)."""
    tenant_apps = {app.rsplit(".", 1)[-1] for app in settings.TENANT_APPS}
    return {m._meta.db_table for m in rls.protected_models() if m._meta.app_label in tenant_apps}


def verify_schema(cursor: Any, schema_name: str) -> None:
    """Refuse a schema unless every company table is there with ENABLE, FORCE and its policy.

    Also checks that the runtime role may use the schema. One query, over this
    schema only (``qiro.rls.missing_row_security`` reads every schema).
    """
    cursor.execute(
        """
        SELECT c.relname, c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (
                   SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s),
               has_schema_privilege(%s, n.oid, 'USAGE')
        FROM pg_namespace n
        LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
             AND c.relname = ANY(%s)
        WHERE n.nspname = %s
        """,
        [rls.ISOLATION_POLICY, role_name("app"), sorted(company_tables()), schema_name],
    )
    rows = cursor.fetchall()
    if not rows or not rows[0][2]:
        raise ProvisioningError(f"the runtime role cannot use {schema_name}")
    protected = {table for table, secured, _ in rows if table is not None and secured}
    unprotected = company_tables() - protected
    if unprotected:
        raise ProvisioningError(
            f"tables missing or without ENABLE/FORCE/policy in {schema_name}: {sorted(unprotected)}"
        )


def create_company_rows(
    *, name: str, business_registration_number: str, schema_name: str, domain: str
) -> Company:
    company = Company.objects.create(
        name=name,
        business_registration_number=business_registration_number,
        schema_name=schema_name,
        status=Company.Status.PROVISIONING,
    )
    Domain.objects.create(domain=domain.lower(), tenant=company, is_primary=True)
    return company


def create_first_administrator(company: Company, admin: FirstAdministrator) -> None:
    with company_context(company):
        sysauth_services.create_first_administrator(
            email=admin.email, full_name=admin.full_name, password_hash=admin.password_hash
        )


def activate(company: Company, on_activate: Callable[[Company], None] | None) -> None:
    company.status = Company.Status.ACTIVE
    company.save(update_fields=["status", "updated_at"])
    from tenants.services import refresh_company_stats

    refresh_company_stats(companies=[company])
    if on_activate is not None:
        on_activate(company)


def discard(schema_name: str) -> None:
    """Remove every trace of a company being provisioned under ``schema_name`` (owner)."""
    with owner_context(), transaction.atomic(using=OWNER_ALIAS):
        Company.objects.filter(schema_name=schema_name, status=Company.Status.PROVISIONING).delete()
    schema_pool.drop_schema(schema_name)


def provision_company(
    *,
    name: str,
    business_registration_number: str,
    schema_name: str,
    domain: str,
    first_admin: FirstAdministrator,
    on_activate: Callable[[Company], None] | None = None,
    timings: ProvisioningTimings | None = None,
) -> Company:
    """Create an active company with its schema, domain and first administrator.

    ``on_activate(company)`` runs in the activating owner transaction: what it
    writes commits together with the company becoming active, or not at all.
    A company left half-made by a crash (status ``provisioning``) under the same
    schema name is removed first, so a retry always starts clean.
    """
    timings = timings if timings is not None else ProvisioningTimings()
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings.steps[step] = (now - clock) * 1000
        clock = now

    with owner_context():
        if Company.objects.filter(
            schema_name=schema_name, status=Company.Status.PROVISIONING
        ).exists():
            discard(schema_name)
    with connections[OWNER_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
        if cursor.fetchone() is not None:
            # Never touch a schema this call did not make.
            raise ProvisioningError(f"schema {schema_name} already exists")
    schema_made = False
    try:
        timings.from_pool = prepare_schema(schema_name)
        schema_made = True
        lap("schema")
        with owner_context(), transaction.atomic(using=OWNER_ALIAS):
            with connections[OWNER_ALIAS].cursor() as cursor:
                batch = StatementBatch(cursor)
                reapply_for_schema(batch, schema_name)
                apply_company_schema_grants(batch, schema_name)
                batch.flush()
                verify_schema(cursor, schema_name)
            lap("row_security")
            company = create_company_rows(
                name=name,
                business_registration_number=business_registration_number,
                schema_name=schema_name,
                domain=domain,
            )
        lap("company")
        create_first_administrator(company, first_admin)
        lap("administrator")
        with owner_context(), transaction.atomic(using=OWNER_ALIAS):
            activate(company, on_activate)
        lap("activate")
    except BaseException:
        if schema_made:
            discard(schema_name)
        raise
    company.refresh_from_db(using=OWNER_ALIAS)
    return company
