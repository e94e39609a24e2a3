"""Companies: the slow creation path, kept figures, suspension.

The fast, all-or-nothing provisioning used at approval is ``tenants.provisioning``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connections, transaction
from django.utils import timezone
from psycopg import sql

from qiro.context import PUBLIC_SCHEMA
from qiro.db.catalog import schemas_with_table
from qiro.db.citus import is_citus, schema_placements
from qiro.db.secure import secure_schema
from qiro.tenant_context import (
    OWNER_ALIAS,
    PLATFORM_ALIAS,
    company_context,
    owner_context,
    platform_context,
)
from sysauth import services as sysauth_services
from tenants import repair, schema_pool
from tenants.models import Company, Domain
from tenants.provisioning import refuse_a_foreign_schema


def create_company_with_migrations(
    *, name: str, business_registration_number: str, schema_name: str, domain: str
) -> Company:
    """Create a company, its domain and a schema built by running every migration.

    All-or-nothing: the schema is built first, carrying the provisioning mark
    (``tenants.repair``) from its ``CREATE SCHEMA``; the company and domain
    rows are then written, the schema secured (``secure_schema``: row
    security, grants, the company-only constraint) and its mark cleared in one
    transaction. If any step fails the schema is dropped again; if the process
    dies, ``repair_provisioning`` finds the marked schema and drops it.
    """
    connection = connections[OWNER_ALIAS]
    # On a connection of its own: the migrations close Django's owner connection.
    with repair.provisioning_lock(schema_name, own_connection=True):
        refuse_a_foreign_schema(schema_name)
        try:
            # migrate_schemas commits and closes the owner's connection itself,
            # so it cannot run inside the transaction below.
            schema_pool.build_schema_with_migrations(
                schema_name, comment=repair.mark_for(f"brn {business_registration_number}")
            )
            with owner_context(), transaction.atomic(using=OWNER_ALIAS):
                company = Company.objects.create(
                    name=name,
                    business_registration_number=business_registration_number,
                    schema_name=schema_name,
                )
                Domain.objects.create(domain=domain.lower(), tenant=company, is_primary=True)
                with connection.cursor() as cursor:
                    secure_schema(cursor, schema_name=schema_name, company_id=company.pk)
                    cursor.execute(
                        sql.SQL("COMMENT ON SCHEMA {} IS NULL").format(sql.Identifier(schema_name))
                    )
        except BaseException:
            schema_pool.drop_schema(schema_name)
            raise
    return company


# --- kept figures -----------------------------------------------------------------

STATS_CHUNK = 500  # company schemas per statement


SIZE_FEW = 20
SIZE_TABLES_FEW = sql.SQL(
    "LEFT JOIN pg_depend d ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid "
    "AND d.classid = 'pg_class'::regclass "
    "LEFT JOIN pg_class r ON r.oid = d.objid AND r.relkind IN ('r', 'm')"
)
SIZE_TABLES_MANY = sql.SQL(
    "LEFT JOIN pg_class r ON r.relnamespace = n.oid AND r.relkind IN ('r', 'm')"
)


def refresh_company_stats(*, companies: Iterable[Company] | None = None) -> int:
    """Recompute the kept user count and schema size of companies (all by default).

    Set-based: one UPDATE for the sizes of every schema, and one UPDATE per
    ``STATS_CHUNK`` schemas for the user counts (a UNION ALL over their user
    tables), on the owner's connection, which reads every schema. Returns the
    number of companies updated.
    """
    with owner_context(), transaction.atomic(using=OWNER_ALIAS):
        queryset = Company.objects.exclude(schema_name=PUBLIC_SCHEMA)
        if companies is not None:
            queryset = queryset.filter(pk__in=[c.pk for c in companies])
        schemas = list(queryset.values_list("schema_name", flat=True))
        with connections[OWNER_ALIAS].cursor() as cursor:
            # A few schemas' tables are found through pg_depend's index on the
            # schema (pg_class has none: reading all of it for one company took
            # 20 ms at a thousand schemas); many at once by one scan of pg_class.
            tables = SIZE_TABLES_FEW if len(schemas) <= SIZE_FEW else SIZE_TABLES_MANY
            cursor.execute(
                sql.SQL(
                    """
                    UPDATE public.tenants_company c
                    SET schema_size_bytes = s.bytes, stats_refreshed_at = now()
                    FROM (
                        SELECT n.nspname, coalesce(sum(pg_total_relation_size(r.oid)), 0) AS bytes
                        FROM pg_namespace n
                        {}
                        WHERE n.nspname = ANY(%s)
                        GROUP BY n.nspname
                    ) s
                    WHERE c.schema_name = s.nspname
                    """
                ).format(tables),
                [schemas],
            )
            updated = cursor.rowcount
            if is_citus(cursor):
                # The coordinator's tables are empty shells: the sizes are the shards'.
                placed = schema_placements(cursor, schemas)
                cursor.execute(
                    "UPDATE public.tenants_company c SET schema_size_bytes = d.bytes "
                    "FROM unnest(%s::text[], %s::bigint[]) AS d(schema_name, bytes) "
                    "WHERE c.schema_name = d.schema_name",
                    [list(placed), [p[2] for p in placed.values()]],
                )
            for start in range(0, len(schemas), STATS_CHUNK):
                chunk = schemas[start : start + STATS_CHUNK]
                with_users = schemas_with_table(cursor, chunk, "sysauth_user")
                if not with_users:
                    continue
                counts = sql.SQL(" UNION ALL ").join(
                    sql.SQL(
                        "SELECT {} AS schema_name, count(*) FILTER (WHERE is_active) AS n FROM {}"
                    ).format(sql.Literal(s), sql.Identifier(s, "sysauth_user"))
                    for s in with_users
                )
                cursor.execute(
                    sql.SQL(
                        "UPDATE public.tenants_company c SET user_count = u.n "
                        "FROM ({}) u WHERE c.schema_name = u.schema_name"
                    ).format(counts)
                )
    return updated


# --- suspension -------------------------------------------------------------------


def suspend_company(*, company: Company, reason: str) -> bool:
    """Suspend an active company and end its users' sessions. False if it was not active.

    Its hosts then answer with the "suspended" page (``TenantContextMiddleware``);
    the sessions are revoked in the company's own context with the reason given.
    """
    with platform_context(), transaction.atomic(using=PLATFORM_ALIAS):
        changed = Company.objects.filter(pk=company.pk, status=Company.Status.ACTIVE).update(
            status=Company.Status.SUSPENDED, status_reason=reason, updated_at=timezone.now()
        )
    if changed:
        with company_context(company):
            sysauth_services.revoke_company_sessions(reason=reason)
    return bool(changed)


def reactivate_company(*, company: Company) -> bool:
    """Make a suspended company active again. False if it was not suspended."""
    with platform_context(), transaction.atomic(using=PLATFORM_ALIAS):
        changed = Company.objects.filter(pk=company.pk, status=Company.Status.SUSPENDED).update(
            status=Company.Status.ACTIVE, status_reason="", updated_at=timezone.now()
        )
    return bool(changed)
