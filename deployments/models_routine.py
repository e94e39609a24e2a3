"""Records the operations routine keeps: daily figures snapshots and permission reports.

Platform data in ``public`` (like the kept figures on ``tenants_company``):
counts per company, written by the routine's jobs as the owner and read by
the platform admin. A snapshot row names its company by id and schema without
a foreign key, so the history of figures outlives a removed company.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from qiro.admin_display import local_stamp


class FiguresSnapshot(models.Model):
    """One day's figures of one company, or of the whole platform (``schema_name`` empty)."""

    day = models.DateField(_("day"))
    company_id = models.BigIntegerField(_("company id"), null=True, blank=True)
    schema_name = models.CharField(_("schema"), max_length=63, blank=True)
    companies = models.PositiveIntegerField(_("companies"), default=1)
    users = models.PositiveIntegerField(_("active users"), default=0)
    active_sessions = models.PositiveIntegerField(_("active sessions"), default=0)
    schema_size_bytes = models.BigIntegerField(_("schema size (bytes)"), default=0)
    taken_at = models.DateTimeField(_("taken"))

    class Meta:
        verbose_name = _("figures snapshot")
        verbose_name_plural = _("figures snapshots")
        ordering = ["-day", "schema_name"]
        constraints = [
            # One row per company and day (the platform total is schema ""): a rerun updates.
            models.UniqueConstraint(fields=["day", "schema_name"], name="deploy_snapshot_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.schema_name or '*'}"


class PermissionReport(models.Model):
    """The permission changes of every company over a period (the monthly report)."""

    period_start = models.DateTimeField(_("from"))
    period_end = models.DateTimeField(_("until"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    companies = models.PositiveIntegerField(_("companies with changes"), default=0)
    changes = models.PositiveIntegerField(_("changes"), default=0)

    class Meta:
        verbose_name = _("permission report")
        verbose_name_plural = _("permission reports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        day = "%Y-%m-%d"
        return f"{local_stamp(self.period_start, day)} - {local_stamp(self.period_end, day)}"


class PermissionReportRow(models.Model):
    """How many changes of one kind one actor made to one role in one company."""

    report = models.ForeignKey(
        PermissionReport, verbose_name=_("report"), related_name="rows", on_delete=models.CASCADE
    )
    company_id = models.BigIntegerField(_("company id"))
    schema_name = models.CharField(_("schema"), max_length=63)
    company_name = models.CharField(_("company"), max_length=200)
    operation = models.CharField(_("operation"), max_length=6)
    table_name = models.CharField(_("what"), max_length=63)
    role_name = models.CharField(_("role"), max_length=50, blank=True)
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True)
    actor_email = models.CharField(_("changed by"), max_length=254, blank=True)
    count = models.PositiveIntegerField(_("changes"))

    class Meta:
        verbose_name = _("permission report row")
        verbose_name_plural = _("permission report rows")
        ordering = ["report", "-count", "schema_name", "role_name", "operation"]

    def __str__(self) -> str:
        return f"{self.schema_name} {self.role_name} {self.operation} x{self.count}"
