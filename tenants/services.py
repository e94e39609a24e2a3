"""Companies: the slow creation path and kept figures (suspension: ``tenants.actions``).

The fast, all-or-nothing provisioning used at approval is ``tenants.provisioning``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connections, transaction
from psycopg import sql

from qiro.context import PUBLIC_SCHEMA
from qiro.db.catalog import schemas_with_table
from qiro.db.citus import is_citus, schema_placements
from qiro.tenant_context import OWNER_ALIAS, owner_context
from tenants.models import Company
from tenants.provisioning import provision_company


def create_company_with_migrations(
    *, name: str, business_registration_number: str, schema_name: str, domain: str
) -> Company:
    """Create a company and its domain in a schema built by running every migration.

    django-tenants' way, kept beside the fast path for comparison
    (``bench/provision.py``) and for companies made without users (tests,
    benchmarks): the same all-or-nothing provisioning
    (``tenants.provisioning.provision_company``) without the pool and without
    a first administrator.
    """
    return provision_company(
        name=name,
        business_registration_number=business_registration_number,
        schema_name=schema_name,
        domain=domain,
        first_admin=None,
        from_pool=False,
    )


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
