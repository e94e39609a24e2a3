"""Daily: what needs a person's attention, on the admin index and by e-mail to the staff.

*Near their limits* means an active company whose kept figures
(``tenants_company.user_count`` and ``schema_size_bytes``, refreshed daily by
``refresh_and_snapshot_figures``) reach ``NEAR_SHARE`` of its plan's limits in
``PLAN_LIMITS`` (a plan not listed there has the ``standard`` limits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from deployments.models import Backup, VerificationRun, WorkerHeartbeat
from qiro import tenant_context
from qiro.stored_text import read, said, stored
from tenants import schema_pool
from tenants.models import Company

SUMMARY_HOURS = 24
NEAR_SHARE = 0.8


@dataclass(frozen=True)
class PlanLimits:
    users: int
    schema_bytes: int


PLAN_LIMITS = {"standard": PlanLimits(users=1000, schema_bytes=1024**3)}


@dataclass
class DailySummary:
    since: datetime
    failed_verifications: list[VerificationRun] = field(default_factory=list)
    failed_backups: list[Backup] = field(default_factory=list)
    near_limits: list[Company] = field(default_factory=list)
    pool_size: int = 0
    worker_last_seen: datetime | None = None
    worker_missing: bool = False

    @property
    def pool_empty(self) -> bool:
        return self.pool_size == 0

    @property
    def findings(self) -> int:
        return (
            len(self.failed_verifications) + len(self.failed_backups) + len(self.near_limits)
            + int(self.pool_empty) + int(self.worker_missing)
        )  # fmt: skip

    def lines(self) -> list[str]:
        """The summary as sentences, one per finding (or one saying all is well)."""
        found: list[str] = []
        for run in self.failed_verifications:
            found.append(
                _("Verification failed: %(run)s, %(failed)d checks.")
                % {"run": run, "failed": run.failed}
            )
        for backup in self.failed_backups:
            found.append(
                _("Backup failed: %(backup)s: %(error)s")
                % {
                    "backup": backup,
                    "error": read(backup.error or backup.test_restore_report)[:200],
                }
            )
        for company in self.near_limits:
            limits = limits_of(company)
            found.append(
                _(
                    "Company near its limits: %(name)s (%(schema)s), %(users)d of %(max_users)d "
                    "users, %(size)d of %(max_size)d MB."
                )
                % {
                    "name": company.name,
                    "schema": company.schema_name,
                    "users": company.user_count,
                    "max_users": limits.users,
                    "size": company.schema_size_bytes // 1024**2,
                    "max_size": limits.schema_bytes // 1024**2,
                }
            )
        if self.pool_empty:
            found.append(_("The schema pool is empty: approvals take the slow path."))
        if self.worker_missing and self.worker_last_seen is None:
            found.append(_("No worker has ever been seen: scheduled jobs and tasks do not run."))
        elif self.worker_missing:
            found.append(
                _("No worker has been seen since %(when)s.")
                % {"when": timezone.localtime(self.worker_last_seen).strftime("%Y-%m-%d %H:%M")}
            )
        return found or [_("Nothing needs attention.")]

    def as_text(self) -> str:
        return "\n".join(f"- {line}" for line in self.lines())


def limits_of(company: Company) -> PlanLimits:
    return PLAN_LIMITS.get(company.plan, PLAN_LIMITS["standard"])


def _near_limits() -> list[Company]:
    listed = [plan for plan in PLAN_LIMITS if plan != "standard"]
    near = Q()
    for plan, limits in PLAN_LIMITS.items():
        in_plan = Q(plan=plan) if plan != "standard" else ~Q(plan__in=listed)
        near |= in_plan & (
            Q(user_count__gte=limits.users * NEAR_SHARE)
            | Q(schema_size_bytes__gte=limits.schema_bytes * NEAR_SHARE)
        )
    return list(
        Company.objects.filter(near, status=Company.Status.ACTIVE)
        .exclude(schema_name="public")
        .order_by("-user_count", "-schema_size_bytes")[:50]
    )


def build_daily_summary(*, now: datetime) -> DailySummary:
    """Failed verifications and backups of the last 24 hours, companies near their limits,
    the pool's ready schemas and the worker's last heartbeat.

    Reads platform records and ``pg_namespace`` only: it runs as the platform
    role on the admin index, never opening the owner's connection.
    """
    since = now - timedelta(hours=SUMMARY_HOURS)
    heartbeat = WorkerHeartbeat.objects.order_by("-last_seen").first()
    last_seen = heartbeat.last_seen if heartbeat else None
    max_age = timedelta(seconds=settings.QIRO_WORKER_HEARTBEAT_MAX_AGE)
    with connections[tenant_context.current_alias()].cursor() as cursor:
        pool_size = len(schema_pool.pool_schemas(cursor, current_only=True))
    return DailySummary(
        since=since,
        failed_verifications=list(
            VerificationRun.objects.filter(
                status=VerificationRun.Status.FAILED, started_at__gte=since
            )[:20]
        ),
        failed_backups=list(
            Backup.objects.filter(
                Q(status=Backup.Status.FAILED, created_at__gte=since)
                | Q(test_restore_ok=False, verified_at__gte=since)
            )[:20]
        ),
        near_limits=_near_limits(),
        pool_size=pool_size,
        worker_last_seen=last_seen,
        worker_missing=last_seen is None or now - last_seen > max_age,
    )


def send_daily_summary(*, now: datetime) -> str:
    """E-mail the summary to the platform staff who asked for it."""
    from deployments.notify import mail_operations_staff  # the staff's opt-in lives there

    summary = build_daily_summary(now=now)
    sent = mail_operations_staff(
        subject=_("QIRO daily summary: %(count)d to look at") % {"count": summary.findings},
        body=summary.as_text(),
    )
    return stored(
        said(
            N_("Daily summary with %(count)d findings sent to %(sent)d staff."),
            count=summary.findings,
            sent=sent,
        )
    )
