"""Records of the platform's database work: operations, backups, verification runs, deploys.

All of it is platform data in the ``public`` schema, written through the
platform role (admin requests, the worker) and read by the admin pages.
"""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.utils.translation import gettext_lazy as _

from deployments import leases
from qiro.admin_display import local_stamp


class LeasedRecord(models.Model):
    """A record that a live process holds while it is running (``deployments.leases``).

    Created inside a lease holder, it carries the holder's id and an expiry
    that the holder renews; a record left running after its expiry is failed
    by the next reaper.
    """

    lease_holder = models.CharField(
        _("held by"), max_length=64, blank=True, default=leases.current_holder
    )
    lease_expires_at = models.DateTimeField(
        _("lease expires"), null=True, blank=True, default=leases.current_expiry
    )

    class Meta:
        abstract = True

    @staticmethod
    def expired_lease_index(name: str) -> models.Index:
        """The reaper's question on every heartbeat: which running records' leases expired."""
        return models.Index(
            fields=["lease_expires_at"], condition=models.Q(status="running"), name=name
        )


def status_column(status: type[models.TextChoices], default: str) -> models.CharField:
    """The ``status`` of a record of database work, one of its own ``Status`` choices."""
    return models.CharField(_("status"), max_length=16, choices=status.choices, default=default)


def operation_column() -> models.ForeignKey:
    """The operation a record was made by, if any; the record outlives it."""
    return models.ForeignKey(
        "deployments.Operation",
        verbose_name=_("operation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )


class Operation(LeasedRecord):
    """One long job (backup, restore, verification, deploy) and its progress."""

    class Kind(models.TextChoices):
        BACKUP = "backup", _("Backup")
        TEST_RESTORE = "test_restore", _("Test restore")
        RESTORE = "restore", _("Live restore")
        VERIFY = "verify", _("Verification")
        DEPLOY = "deploy", _("Deploy")
        MOVE = "move", _("Move to a node")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    requested_by = models.CharField(_("requested by"), max_length=254, blank=True)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    status = status_column(Status, Status.QUEUED)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    steps_done = models.PositiveIntegerField(_("steps done"), default=0)
    steps_total = models.PositiveIntegerField(_("steps in all"), default=0)
    log = models.TextField(_("log"), blank=True)
    error = models.TextField(_("error"), blank=True)
    task_id = models.CharField(_("task id"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("operation")
        verbose_name_plural = _("operations")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["kind", "-created_at"], name="deploy_op_kind_created"),
            LeasedRecord.expired_lease_index("deploy_op_running_lease"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    @admin.display(description=_("progress (%)"))
    def percent(self) -> int:
        if not self.steps_total:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.steps_done / self.steps_total))


class Backup(LeasedRecord):
    """A ``pg_dump -Fd`` archive (a directory) of the whole database or of one company's schema."""

    class Scope(models.TextChoices):
        DATABASE = "database", _("Whole database")
        COMPANY = "company", _("One company")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        OK = "ok", _("Complete")
        FAILED = "failed", _("Failed")

    operation = operation_column()
    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices)
    company_schema = models.CharField(_("company schema"), max_length=63, blank=True)
    database_name = models.CharField(_("database"), max_length=63)
    file_path = models.CharField(_("file"), max_length=500, blank=True)
    size_bytes = models.BigIntegerField(_("size (bytes)"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    duration_seconds = models.FloatField(_("duration (s)"), null=True, blank=True)
    server_version = models.CharField(_("server version"), max_length=64, blank=True)
    pg_dump_path = models.CharField(_("pg_dump"), max_length=500, blank=True)
    pg_dump_version = models.CharField(_("pg_dump version"), max_length=64, blank=True)
    schemas = models.JSONField(_("schemas"), default=list, blank=True)
    entry_count = models.PositiveIntegerField(_("archive entries"), null=True, blank=True)
    row_counts = models.JSONField(_("rows per table at dump time"), default=dict, blank=True)
    status = status_column(Status, Status.RUNNING)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    verified_at = models.DateTimeField(_("test-restored"), null=True, blank=True)
    test_restore_ok = models.BooleanField(_("test restore passed"), null=True, blank=True)
    test_restore_report = models.TextField(_("test restore report"), blank=True)

    class Meta:
        verbose_name = _("backup")
        verbose_name_plural = _("backups")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        what = self.company_schema or self.database_name
        return f"{what} @ {local_stamp(self.created_at)}" if self.created_at else what


class VerificationRun(LeasedRecord):
    """One verification of the database against what the code declares."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        PASSED = "passed", _("Passed")
        FAILED = "failed", _("Failed")

    operation = operation_column()
    database_name = models.CharField(_("database"), max_length=63)
    status = status_column(Status, Status.RUNNING)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    duration_seconds = models.FloatField(_("duration (s)"), null=True, blank=True)
    schema_count = models.PositiveIntegerField(_("schemas"), default=0)
    passed = models.PositiveIntegerField(_("passed"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)

    class Meta:
        verbose_name = _("verification run")
        verbose_name_plural = _("verification runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.database_name} @ {local_stamp(self.started_at)}"


class CheckResult(models.Model):
    """One check in one schema: pass / fail / skip (or an observation), expected vs found."""

    class Outcome(models.TextChoices):
        FAIL = "fail", _("Fail")
        SKIP = "skip", _("Skip")
        PASS = "pass", _("Pass")
        INFO = "info", _("Observation")

    run = models.ForeignKey(
        VerificationRun, verbose_name=_("run"), related_name="results", on_delete=models.CASCADE
    )
    check_name = models.CharField(_("check"), max_length=64)
    schema_name = models.CharField(_("schema"), max_length=63, blank=True)
    outcome = models.CharField(_("outcome"), max_length=8, choices=Outcome.choices)
    expected = models.TextField(_("expected"), blank=True)
    found = models.TextField(_("found"), blank=True)

    class Meta:
        verbose_name = _("check result")
        verbose_name_plural = _("check results")
        ordering = ["run", "outcome", "schema_name", "check_name"]
        indexes = [models.Index(fields=["run", "outcome"], name="deploy_check_run_outcome")]

    def __str__(self) -> str:
        return f"{self.check_name} [{self.schema_name}] {self.outcome}"


class Deployment(LeasedRecord):
    """backup → migrate → verify → health check; restored from the backup on failure."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        ROLLED_BACK = "rolled_back", _("Failed, rolled back")
        FAILED = "failed", _("Failed, not rolled back")

    operation = operation_column()
    backup = models.ForeignKey(
        Backup, verbose_name=_("backup"), null=True, blank=True, on_delete=models.SET_NULL
    )
    verification = models.ForeignKey(
        VerificationRun,
        verbose_name=_("verification"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    status = status_column(Status, Status.RUNNING)
    steps = models.JSONField(_("steps"), default=list, blank=True)
    reason = models.TextField(_("why it failed"), blank=True)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("deployment")
        verbose_name_plural = _("deployments")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_status_display()}"


class WorkerHeartbeat(models.Model):
    """The task worker says it is alive (read by /health/ready/)."""

    worker_id = models.CharField(_("worker"), max_length=64, unique=True)
    hostname = models.CharField(_("host"), max_length=255)
    pid = models.PositiveIntegerField(_("process id"))
    started_at = models.DateTimeField(_("started"))
    last_seen = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.hostname}:{self.pid}"


# Schedules, their runs and incidents, and the routine's records, live in their
# own modules; imported here so that Django finds them as models of this app.
from deployments.models_routine import (  # noqa: E402, F401
    FiguresSnapshot,
    PermissionReport,
    PermissionReportRow,
)
from deployments.scheduling import models as scheduling_models  # noqa: E402, F401
