"""Platform admin: the routine's permission reports (list, table, CSV / XLSX) and snapshots.

The platform index also shows the daily summary (``deployments.routine.summary``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from deployments.models_routine import FiguresSnapshot, PermissionReport
from deployments.routine.exports import report_csv, report_xlsx
from qiro.admin_sites import ObjectPageMixin, OwnViewsMixin, ReadOnlyAdmin, platform_admin

LARGEST_SHOWN = 10
ROWS_SHOWN = 2000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The platform index, with the daily summary above the applications.
platform_admin.index_template = "deployments/reports/platform_index.html"


@admin.register(PermissionReport, site=platform_admin)
class PermissionReportAdmin(OwnViewsMixin, ObjectPageMixin, ReadOnlyAdmin):
    list_display = ("__str__", "companies", "changes", "created_at")
    date_hierarchy = "created_at"
    change_form_template = "deployments/reports/permission_report.html"

    own_views = (
        ("<int:pk>/download.csv", "csv_view", "deployments_report_csv"),
        ("<int:pk>/download.xlsx", "xlsx_view", "deployments_report_xlsx"),
    )

    def _download(self, request: HttpRequest, pk: int, kind: str) -> HttpResponse:
        report = get_object_or_404(PermissionReport, pk=pk)
        if not self.has_view_permission(request, report):
            return HttpResponse(status=403)
        name = f"permission-report-{report.pk}-{timezone.localdate(report.period_end)}"
        if kind == "csv":
            response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(report_xlsx(report), content_type=XLSX_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
        return response

    def csv_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._download(request, pk, "csv")

    def xlsx_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._download(request, pk, "xlsx")

    def page_context(self, obj: PermissionReport) -> dict[str, Any]:
        rows = obj.rows.all()
        return {
            "report": obj,
            "largest": rows.order_by("-count", "schema_name")[:LARGEST_SHOWN],
            "rows": rows.order_by("schema_name", "-count", "role_name", "operation")[:ROWS_SHOWN],
            "shown_limit": ROWS_SHOWN,
        }


@admin.register(FiguresSnapshot, site=platform_admin)
class FiguresSnapshotAdmin(ReadOnlyAdmin):
    list_display = (
        "day", "schema_name", "companies", "users", "active_sessions", "schema_size_bytes",
    )  # fmt: skip
    list_filter = ("day",)
    search_fields = ("schema_name",)
