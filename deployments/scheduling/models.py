"""Schedules of periodic jobs, the record of each run, and the incidents alerts are about.

Platform data in ``public`` (imported by ``deployments.models``), written by
the platform role: the worker and the platform admin.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from deployments.models import LeasedRecord, operation_column, status_column
from deployments.scheduling import registry, timing
from qiro.admin_display import local_stamp


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class Schedule(models.Model):
    """A job from the registry, run every interval or on a cron expression."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    job = models.CharField(_("job"), max_length=200, choices=registry.job_choices)
    interval_seconds = models.PositiveIntegerField(
        _("interval (s)"),
        null=True,
        blank=True,
        help_text=_("Either an interval or a cron expression."),
    )
    cron = models.CharField(
        _("cron expression"),
        max_length=100,
        blank=True,
        help_text=_("Minute hour day month weekday, e.g. 30 2 * * * (every day at 02:30)."),
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default=timing.DEFAULT_TIME_ZONE)
    enabled = models.BooleanField(_("enabled"), default=True)
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True)
    run_requested_at = models.DateTimeField(_("run requested"), null=True, blank=True)
    run_requested_by = models.CharField(_("run requested by"), max_length=254, blank=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_status = models.CharField(
        _("last status"), max_length=16, choices=RunStatus.choices, blank=True
    )
    last_result = models.TextField(_("last result"), blank=True)
    last_duration_seconds = models.FloatField(_("last duration (s)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        app_label = "deployments"
        verbose_name = _("schedule")
        verbose_name_plural = _("schedules")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(interval_seconds__isnull=False, cron="")
                    | (models.Q(interval_seconds__isnull=True) & ~models.Q(cron=""))
                ),
                name="deploy_schedule_interval_or_cron",
            ),
        ]
        indexes = [
            # The worker's question every second: which enabled schedule is due.
            models.Index(
                fields=["next_run_at"],
                condition=models.Q(enabled=True),
                name="deploy_schedule_due",
            ),
        ]

    def __str__(self) -> str:
        # A default schedule's name (``defaults.DEFAULTS``) reads in the reader's
        # language; a name an administrator gave is not in the catalogue and stays.
        return gettext(self.name)

    @property
    def timing_display(self) -> str:
        if self.cron:
            return f"{self.cron} ({self.time_zone})"
        return str(_("every %(seconds)d s") % {"seconds": self.interval_seconds or 0})

    def clean(self) -> None:
        errors: dict[str, object] = {}
        if bool(self.cron.strip()) == bool(self.interval_seconds):
            errors["cron"] = _("Give either an interval or a cron expression, not both.")
        elif self.cron and not timing.is_valid_cron(self.cron):
            errors["cron"] = _("This is not a valid cron expression.")
        elif self.interval_seconds is not None and self.interval_seconds < 60:
            errors["interval_seconds"] = _("An interval is at least 60 seconds.")
        if not timing.is_valid_time_zone(self.time_zone):
            errors["time_zone"] = _("Unknown time zone; use a name such as Asia/Seoul.")
        if self.job not in registry.known_jobs():
            errors["job"] = _("Choose one of the known jobs.")
        if errors:
            raise ValidationError(errors)


class ScheduleRun(LeasedRecord):
    """One run of a schedule: when, how it ended, what it said (and the operation it queued)."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("On schedule")
        REQUESTED = "requested", _("Run now")

    Status = RunStatus

    schedule = models.ForeignKey(
        Schedule, verbose_name=_("schedule"), related_name="runs", on_delete=models.CASCADE
    )
    job = models.CharField(_("job"), max_length=200)
    trigger = models.CharField(
        _("trigger"), max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE
    )
    requested_by = models.CharField(_("requested by"), max_length=254, blank=True)
    status = status_column(RunStatus, RunStatus.RUNNING)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    duration_seconds = models.FloatField(_("duration (s)"), null=True, blank=True)
    result = models.TextField(_("result"), blank=True)
    error = models.TextField(_("error"), blank=True)
    operation = operation_column()

    class Meta:
        app_label = "deployments"
        verbose_name = _("schedule run")
        verbose_name_plural = _("schedule runs")
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["schedule", "-started_at"], name="deploy_run_schedule_started"),
            LeasedRecord.expired_lease_index("deploy_run_running_lease"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule} @ {local_stamp(self.started_at)}"


class Incident(models.Model):
    """Something that went wrong, mailed once when opened, resolved when it works again."""

    class Kind(models.TextChoices):
        VERIFICATION = "verification", _("Verification failed")
        BACKUP = "backup", _("Backup failed")
        TEST_RESTORE = "test_restore", _("Test restore failed")
        DEPLOY = "deploy", _("Deploy failed")
        SCHEDULE = "schedule", _("Schedule not run")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    subject = models.CharField(_("about"), max_length=100, blank=True)
    reason = models.TextField(_("reason"))
    opened_at = models.DateTimeField(_("opened"))
    mailed_at = models.DateTimeField(_("mailed"), null=True, blank=True)
    mailed_to = models.PositiveIntegerField(_("recipients"), default=0)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        app_label = "deployments"
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-opened_at"]
        constraints = [
            # One open incident per thing that is wrong: two workers cannot open (and mail) two.
            models.UniqueConstraint(
                fields=["kind", "subject"],
                condition=models.Q(resolved_at__isnull=True),
                name="deploy_incident_one_open",
            ),
        ]

    def __str__(self) -> str:
        label = str(self.get_kind_display())
        return f"{label}: {self.subject}" if self.subject else label

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
