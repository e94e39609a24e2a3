"""The jobs a schedule may run: a fixed list of dotted paths, never free input.

A job is a plain function ``def job(*, now: datetime) -> str`` that returns a
one-line result (translated) and raises on failure. A path listed here whose
module or function is missing gives a failed run that says so, not a crash.
``QIRO_SCHEDULE_EXTRA_JOBS`` (a dict of path to label, for a deployment's own
jobs) adds to the list.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

Job = Callable[..., str]

JOBS: dict[str, object] = {
    "deployments.scheduling.jobs.expire_sessions": _("Expire sessions"),
    "deployments.scheduling.jobs.refill_schema_pool": _("Refill the schema pool"),
    "deployments.scheduling.jobs.maintain_token_partitions": _(
        "Token partitions ahead and retention"
    ),
    "deployments.scheduling.jobs.verify_database": _("Verification"),
    "deployments.scheduling.jobs.back_up_database": _("Backup with retention"),
    "deployments.scheduling.jobs.test_restore_newest_backup": _(
        "Test restore of the newest backup"
    ),
    "deployments.routine.figures.refresh_and_snapshot_figures": _(
        "Company figures and their snapshot"
    ),
    "deployments.routine.index_health.reindex_bloated_indexes": _("Index health"),
    "deployments.routine.statistics.analyze_stale_tables": _("ANALYZE of stale tables"),
    "deployments.routine.reports.monthly_permission_report": _("Permission-change report"),
    "deployments.routine.summary.send_daily_summary": _("Daily summary mail"),
}


class JobNotFound(LookupError):
    """The schedule names a job that is not known or cannot be imported."""


def known_jobs() -> dict[str, object]:
    return {**JOBS, **getattr(settings, "QIRO_SCHEDULE_EXTRA_JOBS", {})}


def job_choices() -> list[tuple[str, object]]:
    return sorted(known_jobs().items(), key=lambda item: str(item[1]))


def job_label(path: str) -> str:
    return str(known_jobs().get(path, path))


def resolve(path: str) -> Job:
    """The function behind ``path``, which must be a known job."""
    if path not in known_jobs():
        raise JobNotFound(gettext("Job not found: %(path)s is not a known job.") % {"path": path})
    module_name, _dot, name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise JobNotFound(
            gettext("Job not found: %(path)s cannot be imported (%(error)s).")
            % {"path": path, "error": error}
        ) from error
    function = getattr(module, name, None)
    if not callable(function):
        raise JobNotFound(gettext("Job not found: %(path)s has no such function.") % {"path": path})
    return function


def run_job(path: str, *, now: datetime) -> str:
    return str(resolve(path)(now=now))
