"""Daily: refresh the kept company figures and keep a snapshot of them per day."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop as N_
from psycopg import sql

from deployments.routine import _schemas
from qiro.db import pg
from qiro.stored_text import said, stored
from qiro.tenant_context import OWNER_ALIAS, owner_context
from tenants.services import refresh_company_stats

# One row per company and day, and the platform total under the schema name "".
UPSERT_SQL = """
WITH per_company AS (
    SELECT c.id, c.schema_name, c.user_count, c.schema_size_bytes,
           coalesce(s.n, 0) AS active_sessions
    FROM public.tenants_company c
    LEFT JOIN unnest(%(schemas)s::text[], %(sessions)s::bigint[]) AS s(schema_name, n)
           ON s.schema_name = c.schema_name
    WHERE c.schema_name <> 'public'
), rows AS (
    SELECT id AS company_id, schema_name, 1 AS companies, user_count AS users,
           active_sessions, schema_size_bytes
    FROM per_company
    UNION ALL
    SELECT NULL, '', count(*), coalesce(sum(user_count), 0),
           coalesce(sum(active_sessions), 0), coalesce(sum(schema_size_bytes), 0)
    FROM per_company
)
INSERT INTO public.deployments_figuressnapshot
    (day, company_id, schema_name, companies, users, active_sessions, schema_size_bytes, taken_at)
SELECT %(day)s, company_id, schema_name, companies, users, active_sessions, schema_size_bytes,
       %(now)s
FROM rows
ON CONFLICT (day, schema_name) DO UPDATE SET
    company_id = EXCLUDED.company_id, companies = EXCLUDED.companies, users = EXCLUDED.users,
    active_sessions = EXCLUDED.active_sessions,
    schema_size_bytes = EXCLUDED.schema_size_bytes, taken_at = EXCLUDED.taken_at
"""


def _active_sessions(part: _schemas.CompanySchema) -> sql.Composable:
    return sql.SQL(
        "SELECT {}::text, count(*) FROM {} WHERE status = 'active' AND expires_at > now()"
    ).format(sql.Literal(part.schema_name), sql.Identifier(part.schema_name, "sysauth_session"))


def refresh_and_snapshot_figures(*, now: datetime) -> str:
    """Refresh every company's kept figures, then write today's snapshot (idempotent per day).

    The figures are ``refresh_company_stats`` (set-based); active sessions
    are counted in one statement per 500 schemas; the snapshot is one upsert,
    so running the job twice in a day leaves one row per company with the
    later figures.
    """
    refreshed = refresh_company_stats()
    day = timezone.localdate(now)
    connection = pg.owner_on_public()
    with owner_context(), transaction.atomic(using=OWNER_ALIAS), connection.cursor() as cursor:
        found = _schemas.companies(cursor)
        sessions = list(_schemas.union_over(cursor, found, "sysauth_session", _active_sessions))
        cursor.execute(
            UPSERT_SQL,
            {
                "schemas": [row[0] for row in sessions],
                "sessions": [int(row[1]) for row in sessions],
                "day": day,
                "now": now,
            },
        )
    return stored(
        said(
            N_("Figures of %(count)d companies refreshed; snapshot of %(day)s kept."),
            count=refreshed,
            day=day.isoformat(),
        )
    )
