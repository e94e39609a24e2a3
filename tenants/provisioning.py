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

from django.db import connections, transaction
from django.dispatch import Signal
from django.utils.translation import gettext as _
from psycopg import sql

from qiro.db import pg
from qiro.db.secure import ProvisioningError, secure_schema, verify_schema
from qiro.tenant_context import OWNER_ALIAS, company_context, owner_context
from sysauth import actions as sysauth_actions
from tenants import pool_take, repair, schema_pool
from tenants.models import Company, Domain

# Sent after each step of ``provision_company`` (kwargs: step, schema_name).
step_done = Signal()


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


def prepare_schema(
    schema_name: str, *, mark: str, lock: repair.ProvisioningLock, from_pool: bool = True
) -> bool:
    """Make ``schema_name`` exist with every company table; True if it came from the pool.

    The schema carries ``mark`` from the transaction that renames or creates it.
    ``from_pool=False`` always runs the migrations (django-tenants' own way).
    """
    connection = pg.owner_on_public()
    with transaction.atomic(using=OWNER_ALIAS), connection.cursor() as cursor:
        if from_pool and pool_take.take_schema(cursor, schema_name, mark=mark):
            return True
    lock.move_to_own_connection()  # the migrations close Django's owner connection
    try:
        schema_pool.build_schema_with_migrations(schema_name, comment=mark)
    except BaseException:
        schema_pool.drop_schema(schema_name)
        raise
    return False


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
        sysauth_actions.create_first_administrator(
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
    first_admin: FirstAdministrator | None,
    on_activate: Callable[[Company], None] | None = None,
    timings: ProvisioningTimings | None = None,
    claimant: str = "",
    from_pool: bool = True,
) -> Company:
    """Create an active company with its schema, domain and first administrator.

    ``first_admin=None`` makes a company without users, ``from_pool=False`` its
    schema by running every migration (``tenants.services.create_company_with_migrations``).

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
                from_pool=from_pool,
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
            if first_admin is not None:
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
