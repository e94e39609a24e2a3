"""Running due schedules: claimed by exactly one worker, run once, recorded.

A worker claims a due schedule in a short transaction that locks its row
(``SELECT … FOR UPDATE SKIP LOCKED``), moves its next run past now and writes
a running ``ScheduleRun`` under the worker's lease; then it runs the job
outside that transaction. Another worker skips the locked row, and once the
claim commits the schedule is no longer due, so a due job runs once whatever
the number of workers. The next run is computed from the moment of the run,
so a schedule that missed several slots (no worker was up) runs once.

A run left running by a process that died is failed when its lease expires
(``reap_expired``, from every worker heartbeat), like an operation.
"""

from __future__ import annotations

import contextvars
import logging
import time
import traceback
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from deployments import leases
from deployments.models import Operation
from deployments.scheduling import registry, timing
from deployments.scheduling.models import RunStatus, Schedule, ScheduleRun
from qiro import stored_text, tenant_context

logger = logging.getLogger("qiro.schedules")

_current_run: contextvars.ContextVar[ScheduleRun | None] = contextvars.ContextVar(
    "qiro_schedule_run", default=None
)
RESULT_LENGTH = 500


def due(*, now: datetime) -> QuerySet[Schedule]:
    """Enabled schedules whose next run has come, and any with a "run now" request."""
    return Schedule.objects.filter(
        Q(enabled=True, next_run_at__lte=now) | Q(run_requested_at__isnull=False)
    )


def claim_next(*, now: datetime) -> ScheduleRun | None:
    """Take one due schedule for this process (its row locked while it is claimed)."""
    with transaction.atomic(using=tenant_context.current_alias()):
        schedule = (
            due(now=now).select_for_update(skip_locked=True).order_by("next_run_at", "pk").first()
        )
        if schedule is None:
            return None
        requested = schedule.run_requested_at is not None
        run = ScheduleRun.objects.create(
            schedule=schedule,
            job=schedule.job,
            trigger=ScheduleRun.Trigger.REQUESTED if requested else ScheduleRun.Trigger.SCHEDULE,
            requested_by=schedule.run_requested_by,
            started_at=timezone.now(),
        )
        Schedule.objects.filter(pk=schedule.pk).update(
            next_run_at=timing.next_run(schedule, after=now),
            run_requested_at=None,
            run_requested_by="",
        )
    return run


def _one_line(text: str) -> str:
    """A result to keep: stored text (``qiro.stored_text``) whole, else its first line, short."""
    if stored_text.parsed(text) is not None:
        return text
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line[:RESULT_LENGTH]


def execute(run: ScheduleRun, *, now: datetime) -> ScheduleRun:
    """Run the claimed job and record how it ended (a job that raises is a failed run)."""
    token = _current_run.set(run)
    started = time.monotonic()
    try:
        result = _one_line(registry.run_job(run.job, now=now))
        status, error = RunStatus.SUCCEEDED, ""
    except Exception as failure:
        result = _one_line(str(failure)) or type(failure).__name__
        status, error = RunStatus.FAILED, traceback.format_exc(limit=8)
        logger.warning("schedule %s failed: %s", run.schedule, result)
    except BaseException as stop:  # the worker is stopping: the run did not finish
        _finish(run, status=RunStatus.FAILED, result=repr(stop), error="", now=now, started=started)
        raise
    finally:
        _current_run.reset(token)
    return _finish(run, status=status, result=result, error=error, now=now, started=started)


def _finish(
    run: ScheduleRun, *, status: str, result: str, error: str, now: datetime, started: float
) -> ScheduleRun:
    """Fenced like an operation: a run a reaper failed meanwhile stays failed."""
    duration = time.monotonic() - started
    finished = timezone.now()
    won = ScheduleRun.objects.filter(
        pk=run.pk, status=RunStatus.RUNNING, lease_holder=run.lease_holder
    ).update(status=status, finished_at=finished, duration_seconds=duration, result=result,
             error=error)  # fmt: skip
    if won:
        schedule = Schedule.objects.get(pk=run.schedule_id)
        Schedule.objects.filter(pk=schedule.pk).update(
            last_run_at=run.started_at,
            last_status=status,
            last_result=result,
            last_duration_seconds=duration,
            next_run_at=timing.next_run(schedule, after=now + timedelta(seconds=duration)),
        )
    run.refresh_from_db()
    return run


def run_due(*, now: datetime | None = None, limit: int = 100) -> list[ScheduleRun]:
    """Claim and run due schedules one by one until none is left (or ``limit`` ran)."""
    done: list[ScheduleRun] = []
    while len(done) < limit:
        moment = now or timezone.now()
        run = claim_next(now=moment)
        if run is None:
            break
        done.append(execute(run, now=moment))
    return done


# --- used by jobs while they run ------------------------------------------------------


def requester() -> str:
    """Who an operation queued by the running job is recorded as requested by."""
    run = _current_run.get()
    if run is None:
        return ""
    return run.requested_by or f"schedule: {run.schedule}"[:254]


def attach_operation(operation: Operation) -> None:
    """The running job queued ``operation``: its run links to it."""
    run = _current_run.get()
    if run is not None:
        ScheduleRun.objects.filter(pk=run.pk).update(operation=operation)


# --- services for the admin -------------------------------------------------------


def request_run(*, schedule: Schedule, requested_by: str) -> None:
    """ "Run now": the next worker loop runs it once, enabled or not."""
    Schedule.objects.filter(pk=schedule.pk).update(
        run_requested_at=timezone.now(), run_requested_by=requested_by[:254]
    )


def reschedule(*, schedule: Schedule, now: datetime | None = None) -> None:
    """After a change of timing: the next run from now (saved by the caller)."""
    schedule.next_run_at = timing.next_run(schedule, after=now or timezone.now())


# --- leases ----------------------------------------------------------------------


def renew(holder: str) -> int:
    return ScheduleRun.objects.filter(lease_holder=holder, status=RunStatus.RUNNING).update(
        lease_expires_at=leases.lease_until()
    )


def _fail(runs: QuerySet[ScheduleRun], *, lost_connection: bool) -> int:
    failed = 0
    for run in runs.select_related("schedule"):
        reason = leases.stopped_reason(
            holder=run.lease_holder, kind_label=str(run.schedule), lost_connection=lost_connection
        )
        now = timezone.now()
        if ScheduleRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED, finished_at=now, result=_one_line(reason)
        ):
            Schedule.objects.filter(pk=run.schedule_id).update(
                last_run_at=run.started_at, last_status=RunStatus.FAILED, last_result=reason
            )
            failed += 1
    return failed


def reap_expired(*, now: datetime | None = None) -> int:
    """Fail runs whose process stopped renewing their lease."""
    expired = ScheduleRun.objects.filter(
        status=RunStatus.RUNNING, lease_expires_at__lt=now or timezone.now()
    )
    return _fail(expired, lost_connection=False)


def fail_held(holder: str) -> int:
    """This process lost the database while running these: their outcome is unknown."""
    held = ScheduleRun.objects.filter(status=RunStatus.RUNNING, lease_holder=holder)
    return _fail(held, lost_connection=True)
