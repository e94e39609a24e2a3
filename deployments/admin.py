"""Platform admin: start backups, restores, verification and deploys; watch them run.

Every button calls an action of ``deployments.actions``, which records an
``Operation`` with its audit row and queues it for the worker; its progress
page opens next and polls until the job is done. Records are read-only here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from deployments import (  # noqa: F401  admin_reports registers its own
    actions,
    admin_reports,
    charts,
    deploy_record,
    deploys,
    selectors,
    verification_view,
)
from deployments.backups import expected_confirmation
from deployments.models import Backup, Deployment, Operation, VerificationRun
from qiro import stored_text
from qiro.admin_confirm import confirmation_page, is_confirmed
from qiro.admin_display import local_stamp
from qiro.admin_sites import ObjectPageMixin, OwnViewsMixin, ReadOnlyAdmin, platform_admin
from qiro.db.citus import connection_is_citus
from qiro.tenant_context import current_alias
from sysauth.audit import acting_user_of
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


def _started(request: HttpRequest, operation: Operation) -> HttpResponseRedirect:
    """To the progress page of the operation an action just queued."""
    messages.info(request, gettext("%(operation)s is queued.") % {"operation": operation})
    return HttpResponseRedirect(
        reverse("platform_admin:deployments_operation_change", args=[operation.pk])
    )


def _start_once_valid(
    modeladmin: Any,
    request: HttpRequest,
    form: forms.Form,
    start: Callable[[dict[str, Any]], Operation],
    **page: Any,
) -> HttpResponse:
    """A posted valid ``form`` starts the operation (``start`` of its data) and opens its
    progress; otherwise the confirmation page (``page``) shows the form."""
    if request.method == "POST" and form.is_valid():
        return _started(request, start(form.cleaned_data))
    return confirmation_page(modeladmin, request, form=form, **page)


@admin.register(Operation, site=platform_admin)
class OperationAdmin(OwnViewsMixin, ObjectPageMixin, ReadOnlyAdmin):
    list_display = ("__str__", "status", "percent", "requested_by", "created_at", "finished_at")
    list_filter = ("kind", "status")
    change_form_template = "deployments/operation_progress.html"
    own_views = (
        ("<int:pk>/progress/", "progress_view", "deployments_op_progress"),
        ("monitoring/", "monitoring_view", "deployments_monitoring"),
    )

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
                "log": stored_text.read_log(op.log),
                "error": stored_text.read(op.error, "\n\n"),
                "schemas": deploy_progress(op),
            }
        )

    def page_context(self, obj: Operation) -> dict[str, Any]:
        return {
            "schemas": deploy_progress(obj),
            "log_text": stored_text.read_log(obj.log),
            "error_text": stored_text.read(obj.error, "\n\n"),
        }

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


def citus_backup_limit() -> str | None:
    """On Citus, what a backup here does not hold; None on plain PostgreSQL."""
    if not connection_is_citus(current_alias()):
        return None
    return gettext(
        "This database is a Citus cluster: a backup made here is a pg_dump of the coordinator. "
        "It holds the platform's tables and the companies' table definitions, but no company "
        "rows (they are on the worker nodes), and it cannot be restored on Citus. Back up "
        "every node (physical backups at one restore point, citus_create_restore_point())."
    )


@admin.register(Backup, site=platform_admin)
class BackupAdmin(OwnViewsMixin, ReadOnlyAdmin):
    list_display = (
        "__str__", "scope", "status", "size_bytes", "duration_seconds", "test_restore_ok",
        "verified_at",
    )  # fmt: skip
    list_filter = ("scope", "status", "test_restore_ok")
    change_list_template = "deployments/backup_change_list.html"
    change_form_template = "deployments/backup_change_form.html"
    actions = ["test_restore_selected"]
    stored_text_fields = ("test_restore_report", "error")

    own_views = (
        ("start/", "start_view", "deployments_backup_start"),
        ("<int:pk>/restore/", "restore_view", "deployments_backup_restore"),
    )

    @admin.action(description=_("Test-restore the selected backups"))
    def test_restore_selected(
        self, request: HttpRequest, queryset: QuerySet[Backup]
    ) -> HttpResponse | None:
        _require_superuser(request)
        started = [
            actions.start_test_restore(backup=backup, acting_user=acting_user_of(request))
            for backup in queryset
        ]
        if len(started) == 1:  # one: follow it on its progress page
            return _started(request, started[0])
        links = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("platform_admin:deployments_operation_change", args=[op.pk]), op)
                for op in started
            ),
        )
        messages.info(
            request,
            format_html(
                "{} {}",
                gettext("%(count)d test restores are queued.") % {"count": len(started)},
                links,
            ),
        )
        return None

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        limit = citus_backup_limit()
        if limit and request.method == "GET":
            messages.warning(request, limit)
        return super().changelist_view(request, extra_context)

    def start_view(self, request: HttpRequest) -> HttpResponse:
        _require_superuser(request)
        limit = citus_backup_limit()
        return _start_once_valid(
            self,
            request,
            CompanyChoiceForm(request.POST or None),
            lambda data: actions.start_backup(
                company_schema=data["company_schema"], acting_user=acting_user_of(request)
            ),
            title=_("Back up"),
            intro=_(
                "A backup of the whole database, or of one company's schema, runs in the "
                "background; its progress opens next."
            ),
            items=[limit] if limit else [],
            confirm_label=_("Back up"),
            warning=bool(limit),
        )

    def restore_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require_superuser(request)
        backup = get_object_or_404(Backup, pk=pk)
        expected = expected_confirmation(backup)
        return _start_once_valid(
            self,
            request,
            ConfirmRestoreForm(request.POST or None, expected=expected),
            lambda data: actions.start_restore(
                backup=backup,
                confirmation=data["confirmation"],
                acting_user=acting_user_of(request),
            ),
            title=_("Restore over the live data"),
            intro=_(
                "Restoring %(backup)s replaces the live data with the backup. Everything "
                "written since the backup is lost. To confirm, type %(expected)s below."
            )
            % {"backup": backup, "expected": expected},
            items=[
                f"{gettext('Scope')}: {backup.get_scope_display()}",
                f"{gettext('Created')}: {local_stamp(backup.created_at)}",
                f"SHA-256: {backup.sha256}",
                f"{gettext('Test restore passed')}: "
                + {True: gettext("yes"), False: gettext("no"), None: gettext("not tested")}[
                    backup.test_restore_ok
                ],
            ],
            confirm_label=_("Restore"),
            warning=True,
        )


@admin.register(VerificationRun, site=platform_admin)
class VerificationRunAdmin(OwnViewsMixin, ObjectPageMixin, ReadOnlyAdmin):
    list_display = (
        "__str__", "status", "schema_count", "failed", "passed", "skipped", "duration_seconds",
    )  # fmt: skip
    list_filter = ("status",)
    change_list_template = "deployments/verificationrun_change_list.html"
    change_form_template = "deployments/verificationrun_detail.html"

    own_views = (
        ("run/", "run_view", "deployments_verify_start"),
        ("deploy/", "deploy_view", "deployments_deploy_start"),
    )

    @method_decorator(require_POST)
    def run_view(self, request: HttpRequest) -> HttpResponse:
        _require_superuser(request)
        return _started(request, actions.start_verification(acting_user=acting_user_of(request)))

    def deploy_view(self, request: HttpRequest) -> HttpResponse:
        """What a deploy would do, from the one-query migration state; started once confirmed."""
        _require_superuser(request)
        if is_confirmed(request):
            return _started(request, actions.start_deploy(acting_user=acting_user_of(request)))
        state = deploys.current_state()
        behind = len(state.outdated_schemas) + (1 if state.public.outdated else 0)
        if behind:
            intro = _(
                "%(behind)d of %(total)d schemas lack a migration. The deploy backs up the "
                "whole database first, migrates those schemas (a pool schema first, as the "
                "canary), verifies and checks health. If a schema fails it stops there; the "
                "schemas done stay done and deploying again continues."
            ) % {"behind": behind, "total": state.schema_count}
        else:
            intro = _(
                "All %(total)d schemas are up to date: the deploy migrates nothing and makes no "
                "backup; it verifies and checks health."
            ) % {"total": state.schema_count}
        return confirmation_page(
            self,
            request,
            title=_("Deploy"),
            intro=intro,
            items=[str(schema) for schema in list(state.outdated_schemas)[:20]],
            confirm_label=_("Deploy"),
            warning=bool(behind),
        )

    def page_context(self, obj: VerificationRun) -> dict[str, Any]:
        return verification_view.page_context(obj)


@admin.register(Deployment, site=platform_admin)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "status", "backup", "started_at", "finished_at")
    list_filter = ("status",)
    # The backup may be empty, so Django's own select_related() would not follow it.
    list_select_related = ("backup",)
    readonly_fields = (
        "status", "operation", "backup", "verification", "steps_table", "started_at",
        "finished_at",
    )  # fmt: skip
    exclude = ("steps",)
    stored_text_fields = ("reason",)

    @admin.display(description=_("steps"))
    def steps_table(self, deployment: Deployment) -> str:
        return deploy_record.steps_html(deployment)


# Schedules, their runs and incidents: their own module, registered on import.
from deployments.scheduling import admin as scheduling_admin  # noqa: E402, F401
