"""Provisioning a company in milliseconds, all-or-nothing, and safe against a crash.

Steps (each a function below, so a test can make any of them fail):

1. ``prepare_schema``   rename a ready pool schema (``tenants.schema_pool``) to the
                        company's name, or build one with migrations if the pool is empty;
                        either way the schema carries the provisioning's mark
                        (``tenants.repair``) from the transaction that takes or makes it;
2. in one owner transaction: ``create_company_rows`` (company in status
   ``provisioning`` and its domain), ``secure_schema`` (row security, grants, the
   company-only constraint) and ``verify_schema`` (refuses a schema whose tables
   lack ENABLE/FORCE/policy or the constraint, or that the runtime role cannot use);
3. ``create_first_administrator`` as the runtime role inside the company's context;
4. ``activate`` in one owner transaction: status ``active``, the mark cleared, kept
   figures, and the caller's own bookkeeping (``on_activate``, e.g. the application's
   status).

A failure at any step undoes the earlier ones (rows deleted, schema dropped),
so there is never an orphan schema nor an active company without its schema
and administrator, and the same call can simply be made again. A process
killed at any point leaves at most a marked schema and a company still
``provisioning``: the next provisioning of the same schema (and
``tenants.repair.repair_provisioning``) removes them first. Each finished step
sends ``step_done`` (sender ``provision_company``, ``step``, ``schema_name``),
e.g. for a log or a test that interrupts the process there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, transaction
from django.dispatch import Signal
from django.utils.translation import gettext as _
from psycopg import sql

from qiro import rls
from qiro.db.roles import role_name
from qiro.tenant_context import OWNER_ALIAS, company_context, owner_context
from sysauth import services as sysauth_services
from tenants import pool_take, repair, schema_pool
from tenants.models import Company, Domain
from tenants.secure import company_keyed_tables, secure_schema, unrestricted_tables

# Sent after each step of ``provision_company`` (kwargs: step, schema_name).
step_done = Signal()


class ProvisioningError(Exception):
    """A provisioning step found the new schema unfit; nothing was kept."""


class SchemaTakenError(ProvisioningError):
    """The schema name is held by a schema that no provisioning made; nothing was changed."""


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


def prepare_schema(schema_name: str, *, mark: str, lock: repair.ProvisioningLock) -> bool:
    """Make ``schema_name`` exist with every company table; True if it came from the pool.

    The schema carries ``mark`` from the transaction that renames or creates it.
    """
    connection = connections[OWNER_ALIAS]
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    with transaction.atomic(using=OWNER_ALIAS), connection.cursor() as cursor:
        if pool_take.take_schema(cursor, schema_name, mark=mark):
            return True
    lock.move_to_own_connection()  # the migrations close Django's owner connection
    try:
        schema_pool.build_schema_with_migrations(schema_name, comment=mark)
    except BaseException:
        schema_pool.drop_schema(schema_name)
        raise
    return False


def company_tables() -> set[str]:
    """Tables every company schema must hold with row security (declared on the models)."""
    return set(company_keyed_tables())


def verify_schema(cursor: Any, schema_name: str, *, company_id: int | None = None) -> None:
    """Refuse a schema unless every company table is there with ENABLE, FORCE and its policy.

    Also checks that the runtime role may use the schema and, given the
    company, that every company table accepts only its id. One query, over
    this schema only (``qiro.rls.missing_row_security`` reads every schema),
    and one for the constraint.
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
    if company_id is not None:
        unrestricted = unrestricted_tables(cursor, schema_name=schema_name, company_id=company_id)
        if unrestricted:
            raise ProvisioningError(
                f"tables of {schema_name} accept rows of other companies: {unrestricted}"
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
    with connections[OWNER_ALIAS].cursor() as cursor:
        # An active company's schema is no leftover: its mark goes in the same commit.
        cursor.execute(
            sql.SQL("COMMENT ON SCHEMA {} IS NULL").format(sql.Identifier(company.schema_name))
        )
    from tenants.services import refresh_company_stats

    refresh_company_stats(companies=[company])
    if on_activate is not None:
        on_activate(company)


def discard(schema_name: str) -> None:
    """Remove every trace of a company being provisioned under ``schema_name`` (owner)."""
    with owner_context(), transaction.atomic(using=OWNER_ALIAS):
        Company.objects.filter(schema_name=schema_name, status=Company.Status.PROVISIONING).delete()
    schema_pool.drop_schema(schema_name)


def refuse_a_foreign_schema(schema_name: str) -> None:
    """Raise ``SchemaTakenError`` if ``schema_name`` exists (call after ``clear_leftover``)."""
    with connections[OWNER_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
        if cursor.fetchone() is not None:
            # Never touch a schema that no provisioning made (it carries no mark).
            raise SchemaTakenError(
                _(
                    "The schema %(schema)s already exists and was not made by a provisioning; "
                    "nothing was changed. A database administrator must remove or rename it."
                )
                % {"schema": schema_name}
            )


def provision_company(
    *,
    name: str,
    business_registration_number: str,
    schema_name: str,
    domain: str,
    first_admin: FirstAdministrator,
    on_activate: Callable[[Company], None] | None = None,
    timings: ProvisioningTimings | None = None,
    claimant: str = "",
) -> Company:
    """Create an active company with its schema, domain and first administrator.

    ``on_activate(company)`` runs in the activating owner transaction: what it
    writes commits together with the company becoming active, or not at all.
    ``claimant`` names what the company is made for (e.g. the application) in
    the schema's mark. Runs holding the provisioning lock on ``schema_name``
    (``tenants.repair``); what an interrupted provisioning of the same schema
    left (a company still ``provisioning``, a marked schema) is removed first,
    so a retry after a failure or a crash always starts clean. A schema of that
    name that carries no mark raises ``SchemaTakenError`` and is left as it is.
    """
    timings = timings if timings is not None else ProvisioningTimings()
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings.steps[step] = (now - clock) * 1000
        clock = now
        step_done.send(sender=provision_company, step=step, schema_name=schema_name)

    with repair.provisioning_lock(schema_name) as lock:
        repair.clear_leftover(schema_name)
        refuse_a_foreign_schema(schema_name)
        schema_made = False
        try:
            timings.from_pool = prepare_schema(
                schema_name,
                mark=repair.mark_for(claimant or f"brn {business_registration_number}"),
                lock=lock,
            )
            schema_made = True
            lap("schema")
            with owner_context(), transaction.atomic(using=OWNER_ALIAS):
                company = create_company_rows(
                    name=name,
                    business_registration_number=business_registration_number,
                    schema_name=schema_name,
                    domain=domain,
                )
                lap("company")
                with connections[OWNER_ALIAS].cursor() as cursor:
                    secure_schema(cursor, schema_name=schema_name, company_id=company.pk)
                    verify_schema(cursor, schema_name, company_id=company.pk)
            lap("row_security")
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
