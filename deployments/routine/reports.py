"""Monthly: the permission-change report of every company over the last 30 days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils.translation import gettext_noop as N_
from psycopg import sql

from deployments.models_routine import PermissionReport, PermissionReportRow
from deployments.routine import _schemas
from qiro.db import pg
from qiro.stored_text import said, stored
from qiro.tenant_context import OWNER_ALIAS, owner_context

REPORT_DAYS = 30
HISTORY_TABLE = "sysauth_rolepermissionhistory"


def _changes(start: datetime, end: datetime) -> Callable[[_schemas.CompanySchema], sql.Composable]:
    def part(company: _schemas.CompanySchema) -> sql.Composable:
        """One company's changes grouped by operation, table, role and actor.

        Only rows of the company itself (``company_id``), as its own schema
        holds, and role and actor names from the same schema and company.
        """
        table = sql.Identifier(company.schema_name, HISTORY_TABLE)
        return sql.SQL(
            "SELECT {cid}::bigint, {schema}::text, h.operation, h.table_name, "
            "coalesce(r.name, '#' || h.role_id::text, ''), h.actor_id, coalesce(u.email, ''), "
            "count(*) FROM {table} h "
            "LEFT JOIN {roles} r ON r.id = h.role_id AND r.company_id = h.company_id "
            "LEFT JOIN {users} u ON u.id = h.actor_id AND u.company_id = h.company_id "
            "WHERE h.company_id = {cid} AND h.changed_at >= {start} AND h.changed_at < {end} "
            "GROUP BY 3, 4, 5, 6, 7"
        ).format(
            cid=sql.Literal(company.company_id),
            schema=sql.Literal(company.schema_name),
            table=table,
            roles=sql.Identifier(company.schema_name, "sysauth_role"),
            users=sql.Identifier(company.schema_name, "sysauth_user"),
            start=sql.Literal(start),
            end=sql.Literal(end),
        )

    return part


def build_permission_report(*, start: datetime, end: datetime) -> PermissionReport:
    """Count every company's permission changes in [start, end) and store them as a report.

    Read by the owner from each company's history, one ``UNION ALL`` per 500
    schemas (never a query per company), and stored with its rows in one
    transaction: a report is whole or absent.
    """
    connection = pg.owner_on_public()
    with owner_context(), transaction.atomic(using=OWNER_ALIAS), connection.cursor() as cursor:
        found = _schemas.companies(cursor)
        names = {c.company_id: c.name for c in found}
        rows = [
            PermissionReportRow(
                company_id=cid,
                schema_name=schema,
                company_name=names.get(int(cid), ""),
                operation=operation,
                table_name=table,
                role_name=role[:50],
                actor_id=actor_id,
                actor_email=email,
                count=count,
            )
            for cid, schema, operation, table, role, actor_id, email, count in _schemas.union_over(
                cursor, found, HISTORY_TABLE, _changes(start, end)
            )
        ]
        report = PermissionReport.objects.using(OWNER_ALIAS).create(
            period_start=start,
            period_end=end,
            companies=len({row.company_id for row in rows}),
            changes=sum(row.count for row in rows),
        )
        for row in rows:
            row.report = report
        PermissionReportRow.objects.using(OWNER_ALIAS).bulk_create(rows, batch_size=2000)
    return report


def monthly_permission_report(*, now: datetime) -> str:
    """The report of the 30 days up to ``now``, kept for the admin (and CSV / XLSX)."""
    report = build_permission_report(start=now - timedelta(days=REPORT_DAYS), end=now)
    return stored(
        said(
            N_("Permission report #%(id)d: %(changes)d changes in %(companies)d companies."),
            id=report.pk,
            changes=report.changes,
            companies=report.companies,
        )
    )
