"""Platform admin: schedules (edit, "run now" with a confirmation), their runs, incidents."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from deployments.scheduling import registry, runner
from deployments.scheduling.models import Incident, Schedule, ScheduleRun
from qiro.admin_display import QiroModelAdmin, ReadableColumnsMixin
from qiro.admin_sites import ReadOnlyAdmin, platform_admin

TIMING_FIELDS = {"interval_seconds", "cron", "time_zone", "enabled"}


@admin.register(Schedule, site=platform_admin)
class ScheduleAdmin(ReadableColumnsMixin, QiroModelAdmin):
    list_display = (
        "__str__", "job_label", "timing_display", "enabled", "last_run_at", "last_status",
        "last_duration_seconds", "next_run_at", "last_result",
    )  # fmt: skip
    list_filter = ("enabled", "last_status")
    search_fields = ("name", "job")
    fields = ("name", "job", "interval_seconds", "cron", "time_zone", "enabled", *(
        "next_run_at", "run_requested_at", "last_run_at", "last_status", "last_result_text",
        "last_duration_seconds",
    ))  # fmt: skip
    readonly_fields = (
        "next_run_at", "run_requested_at", "last_run_at", "last_status", "last_duration_seconds",
    )  # fmt: skip
    stored_text_fields = ("last_result",)
    actions = ["run_now"]

    @admin.display(description=_("job"), ordering="job")
    def job_label(self, schedule: Schedule) -> str:
        return registry.job_label(schedule.job)

    @admin.display(description=_("when"))
    def timing_display(self, schedule: Schedule) -> str:
        return schedule.timing_display

    def save_model(self, request: HttpRequest, obj: Schedule, form: Any, change: bool) -> None:
        if not change or TIMING_FIELDS & set(form.changed_data) or obj.next_run_at is None:
            runner.reschedule(schedule=obj)
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Run the selected schedules now"), permissions=["change"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> HttpResponse | None:
        """First a page that lists what will run; the confirmed POST queues them."""
        if request.POST.get("confirmed") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": gettext("Run these schedules now?"),
                "schedules": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "deployments/schedule_run_now.html", context)
        requested_by = str(getattr(request.user, "email", ""))
        for schedule in queryset:
            runner.request_run(schedule=schedule, requested_by=requested_by)
        count = queryset.count()
        messages.info(
            request,
            ngettext(
                "%(count)d schedule will run at the worker's next turn.",
                "%(count)d schedules will run at the worker's next turn.",
                count,
            )
            % {"count": count},
        )
        return None


@admin.register(ScheduleRun, site=platform_admin)
class ScheduleRunAdmin(ReadOnlyAdmin):
    list_display = (
        "schedule", "trigger", "status", "started_at", "finished_at", "duration_seconds",
        "result", "operation",
    )  # fmt: skip
    list_filter = ("status", "trigger", "schedule", "started_at")
    list_select_related = ("schedule", "operation")
    search_fields = ("schedule__name", "result", "error")
    stored_text_fields = ("result",)
    date_hierarchy = "started_at"


@admin.register(Incident, site=platform_admin)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "reason", "opened_at", "mailed_at", "mailed_to", "resolved_at")
    stored_text_fields = ("reason",)
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter), "opened_at")
    search_fields = ("subject", "reason")
