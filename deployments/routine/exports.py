"""A permission report as files people keep: CSV (UTF-8 with BOM, for Excel) and XLSX."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook

from deployments.models_routine import PermissionReport


def _header() -> list[str]:
    return [
        _("Company"), _("Schema"), _("Operation"), _("What"), _("Role"), _("Changed by"),
        _("Changes"),
    ]  # fmt: skip


def report_rows(report: PermissionReport) -> list[list[Any]]:
    """The header and one line per (company, operation, table, role, actor), largest first."""
    lines: list[list[Any]] = [_header()]
    for row in report.rows.order_by("schema_name", "-count", "role_name", "operation"):
        lines.append(
            [
                row.company_name, row.schema_name, row.operation, row.table_name, row.role_name,
                row.actor_email or (f"#{row.actor_id}" if row.actor_id else ""), row.count,
            ]
        )  # fmt: skip
    return lines


def report_csv(report: PermissionReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for line in report_rows(report):
        # A leading =, +, - or @ would be a formula to a spreadsheet: keep text as text.
        writer.writerow([f"'{v}" if isinstance(v, str) and v[:1] in "=+-@" else v for v in line])
    return ("\ufeff" + out.getvalue()).encode()


def report_xlsx(report: PermissionReport) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Permission changes")[:31]
    for line in report_rows(report):
        # openpyxl stores strings as strings (never formulas) only when they do not begin with =.
        sheet.append([f"'{v}" if isinstance(v, str) and v.startswith("=") else v for v in line])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
