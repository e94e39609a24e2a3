"""Reads for the platform's monitoring page.

Platform tables (companies, applications, deployment records) are read
through the platform role. Figures that live in company schemas (users,
sessions, failed sign-ins) are read as aggregates only — counts per company,
never rows — by the owner in one statement over every schema, the same way
verification reads the catalogs. A figure whose table does not exist yet is
reported as unavailable instead of zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from psycopg import sql

from deployments.models import Backup, VerificationRun
from qiro.db import pg


@dataclass
class Figure:
    """A table of figures, or why there is none."""

    rows: list[Any] = field(default_factory=list)
    unavailable: str = ""


def _schemas_with_table(conn: Any, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s AND c.relkind IN ('r', 'p') "
        "AND (n.nspname = 'public' OR n.nspname IN "
        "     (SELECT schema_name FROM public.tenants_company)) ORDER BY 1",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def _per_schema(conn: Any, table: str, select: str, where: str = "TRUE") -> Figure:
    """``select`` aggregated over ``table`` in every schema that has it (one statement)."""
    schemas = _schemas_with_table(conn, table)
    if not schemas:
        return Figure(unavailable=f"{table} does not exist yet")
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}::text, {} FROM {} WHERE {}").format(
            sql.Literal(schema), sql.SQL(select), sql.Identifier(schema, table), sql.SQL(where)
        )
        for schema in schemas
    )
    return Figure(rows=conn.execute(query).fetchall())


def companies_by_status() -> list[dict[str, Any]]:
    from tenants.models import Company

    return list(Company.objects.values("status").annotate(count=Count("id")).order_by("status"))


def signups_per_day(days: int = 14) -> Figure:
    try:
        application = apps.get_model("registration", "Application")
    except LookupError:
        return Figure(unavailable="sign-up applications are not available yet")
    date_field = next((f for f in ("submitted_at", "created_at") if hasattr(application, f)), None)
    if date_field is None:
        return Figure(unavailable="sign-up applications carry no date")
    since = timezone.now() - timedelta(days=days)
    rows = (
        application.objects.filter(**{f"{date_field}__gte": since})
        .annotate(day=TruncDate(date_field))
        .values("day")
        .annotate(count=Count("pk"))
        .order_by("day")
    )
    return Figure(rows=[(r["day"], r["count"]) for r in rows])


def company_figures() -> dict[str, Figure]:
    """Users by status, active sessions and failed sign-ins (24 h) per schema."""
    with pg.connect() as conn:
        return {
            "users": _per_schema(
                conn,
                "sysauth_user",
                "count(*) FILTER (WHERE is_active), count(*) FILTER (WHERE NOT is_active)",
            ),
            "sessions": _per_schema(
                conn,
                "sysauth_session",
                "count(*)",
                "status = 'active' AND expires_at > now()",
            ),
            "failed_logins": _per_schema(
                conn,
                "sysauth_loginfailure",
                "count(*)",
                "failed_at > now() - interval '24 hours'",
            ),
            "largest_schemas": Figure(
                rows=conn.execute(
                    """
                    SELECT n.nspname, sum(pg_total_relation_size(c.oid))::bigint
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind IN ('r', 'm')
                      AND (n.nspname = 'public'
                           OR n.nspname IN (SELECT schema_name FROM public.tenants_company))
                    GROUP BY 1 ORDER BY 2 DESC LIMIT 10
                    """
                ).fetchall()
            ),
        }


def latest_records() -> dict[str, Any]:
    return {
        "verification": VerificationRun.objects.exclude(
            status=VerificationRun.Status.RUNNING
        ).first(),
        "backup": Backup.objects.filter(status=Backup.Status.OK).first(),
        "verified_backup": Backup.objects.filter(test_restore_ok=True).first(),
    }
