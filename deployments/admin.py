"""Platform admin: start backups, restores, verification and deploys; watch them run.

Every button queues an ``Operation`` for the worker and opens its progress
page, which polls until the job is done. Records are read-only here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from deployments import admin_reports, charts, selectors, verification_view  # noqa: F401  admin_reports registers its own
from deployments.backups import expected_confirmation
from deployments.deploys import DEFAULT_EXECUTOR
from deployments.models import Backup, Deployment, Operation, VerificationRun
from deployments.tasks import enqueue
from qiro.admin_sites import ReadOnlyAdmin, platform_admin
from tenants import admin_nodes


def deploy_progress(operation: Operation) -> dict[str, Any] | None:
    """A deploy's per-schema figures: done, total, failed, seconds left (None for others)."""
    if operation.kind != Operation.Kind.DEPLOY:
        return None
    deployment = Deployment.objects.filter(operation=operation).order_by("-pk").first()
    migrate = (
        next((s for s in deployment.steps if s["name"] == "migrate"), None) if deployment else None
    )
    return migrate.get("progress") if migrate else None


def _require_superuser(request: HttpRequest) -> None:
    if not request.user.is_superuser:
        raise PermissionDenied


def _start(request: HttpRequest, kind: str, parameters: dict[str, Any]) -> HttpResponseRedirect:
    _require_superuser(request)
    operation = enqueue(
        kind=kind,
        requested_by=getattr(request.user, "email", ""),
        parameters=parameters,
    )
    messages.info(request, gettext("%(operation)s is queued.") % {"operation": operation})
    return HttpResponseRedirect(
        reverse("platform_admin:deployments_operation_change", args=[operation.pk])
    )


@admin.register(Operation, site=platform_admin)
class OperationAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "status", "percent", "requested_by", "created_at", "finished_at")
    list_filter = ("kind", "status")
    change_form_template = "deployments/operation_progress.html"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/progress/", view(self.progress_view), name="deployments_op_progress"),
            path("monitoring/", view(self.monitoring_view), name="deployments_monitoring"),
            *super().get_urls(),
        ]  # fmt: skip

    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        op = get_object_or_404(Operation, pk=pk)
        return JsonResponse(
            {
                "status": op.status,
                "status_display": op.get_status_display(),
                "steps_done": op.steps_done,
                "steps_total": op.steps_total,
                "percent": op.percent,
                "finished": op.is_finished,
                "log": op.log,
                "error": op.error,
                "schemas": deploy_progress(op),
            }
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        op = get_object_or_404(Operation, pk=object_id)
        extra = {"schemas": deploy_progress(op)}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def monitoring_view(self, request: HttpRequest) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Monitoring"),
            "companies": charts.with_status_labels(selectors.companies_by_status()),
            "signups": selectors.signups_per_day(),
            "figures": charts.with_company_names(selectors.company_figures()),
            "nodes": admin_nodes.node_totals(),
            **selectors.latest_records(),
            "charts": charts.all_series(),
            "busiest": charts.sessions_per_company(),
            "slowest": charts.slowest_statements(),
        }
        return TemplateResponse(request, "deployments/monitoring.html", context)


class CompanyChoiceForm(forms.Form):
    company_schema = forms.CharField(
        label=_("Company schema (empty: the whole database)"), required=False, max_length=63
    )


class ConfirmRestoreForm(forms.Form):
    confirmation = forms.CharField(label=_("Type the name to confirm"), max_length=63)

    def __init__(self, *args: Any, expected: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_confirmation(self) -> str:
        value = str(self.cleaned_data["confirmation"])
        if value != self.expected:
            raise forms.ValidationError(
                _("Type %(expected)s exactly to confirm the restore."),
                params={"expected": self.expected},
            )
        return value


@admin.register(Backup, site=platform_admin)
class BackupAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__", "scope", "status", "size_bytes", "duration_seconds", "test_restore_ok",
        "verified_at",
    )  # fmt: skip
    list_filter = ("scope", "status", "test_restore_ok")
    change_list_template = "deployments/backup_change_list.html"
    change_form_template = "deployments/backup_change_form.html"
    actions = ["test_restore_selected"]

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("start/", view(self.start_view), name="deployments_backup_start"),
            path("<int:pk>/restore/", view(self.restore_view), name="deployments_backup_restore"),
            *super().get_urls(),
        ]

    @admin.action(description=_("Test-restore the selected backups"))
    def test_restore_selected(self, request: HttpRequest, queryset: QuerySet[Backup]) -> None:
        _require_superuser(request)
        for backup in queryset:
            enqueue(
                kind=Operation.Kind.TEST_RESTORE,
                requested_by=getattr(request.user, "email", ""),
                parameters={"backup": backup.pk},
            )
        messages.info(
            request,
            gettext("%(count)d test restores are queued.") % {"count": queryset.count()},
        )

    def start_view(self, request: HttpRequest) -> HttpResponse:
        _require_superuser(request)
        form = CompanyChoiceForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            return _start(
                request,
                Operation.Kind.BACKUP,
                {"company_schema": form.cleaned_data["company_schema"].strip()},
            )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Back up"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "deployments/backup_start.html", context)

    def restore_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require_superuser(request)
        backup = get_object_or_404(Backup, pk=pk)
        expected = expected_confirmation(backup)
        form = ConfirmRestoreForm(request.POST or None, expected=expected)
        if request.method == "POST" and form.is_valid():
            return _start(
                request,
                Operation.Kind.RESTORE,
                {"backup": backup.pk, "confirmation": form.cleaned_data["confirmation"]},
            )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Restore over the live data"),
            "backup": backup,
            "expected": expected,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "deployments/restore_confirm.html", context)


@admin.register(VerificationRun, site=platform_admin)
class VerificationRunAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__", "status", "schema_count", "failed", "passed", "skipped", "duration_seconds",
    )  # fmt: skip
    list_filter = ("status",)
    change_list_template = "deployments/verificationrun_change_list.html"
    change_form_template = "deployments/verificationrun_detail.html"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("run/", view(require_POST(self.run_view)), name="deployments_verify_start"),
            path("deploy/", view(require_POST(self.deploy_view)), name="deployments_deploy_start"),
            *super().get_urls(),
        ]

    def run_view(self, request: HttpRequest) -> HttpResponse:
        return _start(request, Operation.Kind.VERIFY, {})

    def deploy_view(self, request: HttpRequest) -> HttpResponse:
        return _start(request, Operation.Kind.DEPLOY, {"executor": DEFAULT_EXECUTOR})

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        run = self.get_object(request, object_id)
        if run is None:  # an unknown or malformed id: the admin's own "not found" answer
            return super().change_view(request, object_id, form_url, extra_context)
        extra = verification_view.page_context(run)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


@admin.register(Deployment, site=platform_admin)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "status", "backup", "started_at", "finished_at")
    list_filter = ("status",)
    # The backup may be empty, so Django's own select_related() would not follow it.
    list_select_related = ("backup",)
    readonly_fields = (
        "status", "operation", "backup", "verification", "steps", "reason", "started_at",
        "finished_at",
    )  # fmt: skip


# Schedules, their runs and incidents: their own module, registered on import.
from deployments.scheduling import admin as scheduling_admin  # noqa: E402, F401
