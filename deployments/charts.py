"""The monitoring page's charts: series read from kept figures, never per company per request.

Sign-ups come from the applications (one grouped query); growth and active
sessions from the daily figures snapshots that the routine keeps; verification
and backup history from their records; the slowest statements from
``pg_stat_statements`` when it is installed. Each series is a plain dict that
the page hands to its charts as JSON; times are Unix seconds.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import psycopg
from django.db.models import Count, Max
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from deployments.models import Backup, VerificationRun
from deployments.models_routine import FiguresSnapshot
from qiro.db import pg

DAYS = 30
HISTORY = 60  # records in the verification and backup charts
TOP = 15  # companies in the active-sessions bars


def _epoch(moment: Any) -> int:
    return int(moment.timestamp())


def _chart(x: list[int], *series: tuple[str, str, list[Any]]) -> dict[str, Any]:
    """One chart: x in Unix seconds; each series (label, unit, values), unit bytes|count|seconds."""
    return {
        "x": x,
        "series": [
            {"label": label, "unit": unit, "values": values} for label, unit, values in series
        ],
    }


def signups(days: int = DAYS) -> dict[str, Any]:
    """Applications submitted per day, in the site's time zone, zero on days without."""
    from registration.models import Application

    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    counted = dict(
        Application.objects.filter(submitted_at__date__gte=first)
        .annotate(day=TruncDate("submitted_at"))
        .values("day")
        .annotate(count=Count("pk"))
        .values_list("day", "count")
    )
    days_shown = [first + timedelta(days=n) for n in range(days)]
    zone = timezone.get_current_timezone()
    return _chart(
        [_epoch(datetime.combine(d, time(12), tzinfo=zone)) for d in days_shown],
        (_("Sign-ups"), "count", [counted.get(d, 0) for d in days_shown]),
    )


def growth(days: int = DAYS) -> dict[str, Any]:
    """The platform's totals per day (the snapshot rows without a schema)."""
    rows = list(
        FiguresSnapshot.objects.filter(
            schema_name="", day__gte=timezone.localdate() - timedelta(days)
        )
        .order_by("day")
        .values_list("taken_at", "schema_size_bytes", "users", "active_sessions", "companies")
    )
    return _chart(
        [_epoch(row[0]) for row in rows],
        (_("Database size"), "bytes", [row[1] for row in rows]),
        (_("Active users"), "count", [row[2] for row in rows]),
        (_("Active sessions"), "count", [row[3] for row in rows]),
    )


def sessions_per_company(top: int = TOP) -> dict[str, Any]:
    """Active sessions of the busiest companies on the latest snapshot day, by company name."""
    from tenants.models import Company

    latest = FiguresSnapshot.objects.exclude(schema_name="").aggregate(day=Max("day"))["day"]
    if latest is None:
        return {"day": None, "rows": []}
    rows = list(
        FiguresSnapshot.objects.filter(day=latest)
        .exclude(schema_name="")
        .order_by("-active_sessions", "schema_name")
        .values_list("company_id", "schema_name", "active_sessions")[:top]
    )
    names = dict(
        Company.objects.filter(pk__in=[r[0] for r in rows if r[0]]).values_list("pk", "name")
    )
    widest = max((r[2] for r in rows), default=0) or 1
    return {
        "day": latest,
        "rows": [
            {
                "name": names.get(company_id, schema),
                "count": count,
                "percent": round(100 * count / widest),
            }
            for company_id, schema, count in rows
        ],
    }


def verifications(limit: int = HISTORY) -> dict[str, Any]:
    runs = list(
        VerificationRun.objects.exclude(finished_at=None)
        .order_by("-finished_at")
        .values_list("finished_at", "passed", "failed", "duration_seconds")[:limit]
    )[::-1]
    return _chart(
        [_epoch(r[0]) for r in runs],
        (_("Checks failed"), "count", [r[2] for r in runs]),
        (_("Duration"), "seconds", [round(r[3] or 0, 2) for r in runs]),
    )


def backups(limit: int = HISTORY) -> dict[str, Any]:
    made = list(
        Backup.objects.filter(status=Backup.Status.OK)
        .order_by("-created_at")
        .values_list("created_at", "size_bytes", "duration_seconds")[:limit]
    )[::-1]
    return _chart(
        [_epoch(r[0]) for r in made],
        (_("Backup size"), "bytes", [r[1] or 0 for r in made]),
        (_("Duration"), "seconds", [round(r[2] or 0, 2) for r in made]),
    )


def slowest_statements(limit: int = 10) -> dict[str, Any]:
    """Mean time of the slowest statements, or why there are none."""
    try:
        with pg.connect() as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"
            ).fetchone():
                return {"rows": [], "unavailable": "pg_stat_statements"}
            rows = conn.execute(
                "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 160), calls, "
                "mean_exec_time FROM pg_stat_statements WHERE dbid = "
                "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                "ORDER BY mean_exec_time DESC LIMIT %s",
                [limit],
            ).fetchall()
    except psycopg.Error:
        return {"rows": [], "unavailable": "pg_stat_statements"}
    widest = max((r[2] for r in rows), default=0) or 1
    return {
        "rows": [
            {
                "query": q,
                "calls": calls,
                "mean_ms": round(mean, 2),
                "percent": round(100 * mean / widest),
            }
            for q, calls, mean in rows
        ],
        "unavailable": "",
    }


def with_company_names(figures: dict[str, Any]) -> dict[str, Any]:
    """Per-schema figure tables with each company's name where its schema stood."""
    from dataclasses import replace

    from tenants.models import Company

    names = dict(Company.objects.values_list("schema_name", "name"))
    names["public"] = _("Platform (public schema)")
    return {
        key: replace(figure, rows=[(names.get(row[0], row[0]), *row[1:]) for row in figure.rows])
        for key, figure in figures.items()
    }


def with_status_labels(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Companies-by-status rows with the status said in words."""
    from tenants.models import Company

    labels = dict(Company.Status.choices)
    return [{**row, "label": labels.get(row["status"], row["status"])} for row in rows]


def all_series() -> dict[str, Any]:
    """Everything the charts draw (JSON-ready)."""
    return {
        "signups": signups(),
        "growth": growth(),
        "verifications": verifications(),
        "backups": backups(),
    }
