"""The operations routine that ``bootstrap`` installs: hourly, daily, weekly, monthly.

Names are stored in English and read in the reader's language
(``Schedule.__str__``); installed by name and only when missing, so a schedule an admin changed (or
disabled) is never overwritten; times are in Asia/Seoul.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_noop

from deployments.scheduling import timing
from deployments.scheduling.models import Schedule

OURS = "deployments.scheduling.jobs."
ROUTINE = "deployments.routine."


@dataclass(frozen=True)
class DefaultSchedule:
    name: str
    job: str
    cron: str


DEFAULTS: tuple[DefaultSchedule, ...] = (
    # hourly
    DefaultSchedule(gettext_noop("hourly: expire sessions"), OURS + "expire_sessions", "5 * * * *"),
    DefaultSchedule(
        gettext_noop("hourly: refill the schema pool"), OURS + "refill_schema_pool", "20 * * * *"
    ),
    # daily
    DefaultSchedule(
        gettext_noop("daily: token partitions"), OURS + "maintain_token_partitions", "10 1 * * *"
    ),
    DefaultSchedule(
        gettext_noop("daily: company figures"),
        ROUTINE + "figures.refresh_and_snapshot_figures",
        "30 1 * * *",
    ),
    DefaultSchedule(gettext_noop("daily: verification"), OURS + "verify_database", "0 2 * * *"),
    DefaultSchedule(gettext_noop("daily: backup"), OURS + "back_up_database", "30 2 * * *"),
    DefaultSchedule(
        gettext_noop("daily: summary mail"), ROUTINE + "summary.send_daily_summary", "0 8 * * *"
    ),
    # weekly (Sunday)
    DefaultSchedule(
        gettext_noop("weekly: test restore"), OURS + "test_restore_newest_backup", "0 4 * * 0"
    ),
    DefaultSchedule(
        gettext_noop("weekly: index health"),
        ROUTINE + "index_health.reindex_bloated_indexes",
        "0 5 * * 0",
    ),
    DefaultSchedule(
        gettext_noop("weekly: ANALYZE stale tables"),
        ROUTINE + "statistics.analyze_stale_tables",
        "30 5 * * 0",
    ),
    # monthly
    DefaultSchedule(
        gettext_noop("monthly: permission-change report"),
        ROUTINE + "reports.monthly_permission_report",
        "0 6 1 * *",
    ),
)


def install_defaults(*, using: str, now: datetime | None = None) -> int:
    """Create the default schedules that do not exist yet; how many were created."""
    now = now or timezone.now()
    schedules = Schedule.objects.using(using)
    existing = set(
        schedules.filter(name__in=[d.name for d in DEFAULTS]).values_list("name", flat=True)
    )
    missing = [
        Schedule(name=d.name, job=d.job, cron=d.cron, time_zone=timing.DEFAULT_TIME_ZONE)
        for d in DEFAULTS
        if d.name not in existing
    ]
    for schedule in missing:
        schedule.next_run_at = timing.next_run(schedule, after=now)
    schedules.bulk_create(missing, ignore_conflicts=True)
    return len(missing)
