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
from qiro.context import PUBLIC_SCHEMA
from qiro.db import pg
from qiro.db.catalog import largest_schemas, schemas_with_table
from qiro.migration_state import company_schemas
from tenants.models import Company


@dataclass
class Figure:
    """A table of figures, or why there is none."""

    rows: list[Any] = field(default_factory=list)
    unavailable: str = ""


def _per_schema(
    conn: Any, schemas: list[str], table: str, select: str, where: str = "TRUE"
) -> Figure:
    """``select`` aggregated over ``table`` in every one of ``schemas`` that has it."""
    with conn.cursor() as cursor:
        schemas = schemas_with_table(cursor, schemas, table)
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
    with pg.connect() as conn, conn.cursor() as cursor:
        schemas = [PUBLIC_SCHEMA, *company_schemas(cursor)]
        return {
            "users": _per_schema(
                conn,
                schemas,
                "sysauth_user",
                "count(*) FILTER (WHERE is_active), count(*) FILTER (WHERE NOT is_active)",
            ),
            "sessions": _per_schema(
                conn,
                schemas,
                "sysauth_session",
                "count(*)",
                "status = 'active' AND expires_at > now()",
            ),
            "failed_logins": _per_schema(
                conn,
                schemas,
                "sysauth_loginfailure",
                "count(*)",
                "failed_at > now() - interval '24 hours'",
            ),
            "largest_schemas": Figure(rows=largest_schemas(cursor, schemas)),
        }


def latest_records() -> dict[str, Any]:
    return {
        "verification": VerificationRun.objects.exclude(
            status=VerificationRun.Status.RUNNING
        ).first(),
        "backup": Backup.objects.filter(status=Backup.Status.OK).first(),
        "verified_backup": Backup.objects.filter(test_restore_ok=True).first(),
    }
