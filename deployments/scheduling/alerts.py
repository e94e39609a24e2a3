"""Alerts: something failed, or a schedule stopped running: mail once, resolve when fixed.

Each kind of trouble is one open ``Incident`` at most (a partial unique
index, so two workers cannot both open and mail it). An incident is opened
and mailed to the opted-in staff when the latest verification, backup, test
restore or deploy failed, or an enabled schedule has not run for twice its
period; it is resolved when the next one of the same kind succeeds (the
schedule runs again). While one is open, ``/health/ready/`` says degraded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from deployments import notify
from deployments.models import Operation, VerificationRun
from deployments.scheduling import timing
from deployments.scheduling.models import Incident, Schedule
from qiro import stored_text, tenant_context
from qiro.stored_text import said

OPERATION_KINDS: dict[str, str] = {
    Incident.Kind.BACKUP: Operation.Kind.BACKUP,
    Incident.Kind.TEST_RESTORE: Operation.Kind.TEST_RESTORE,
    Incident.Kind.DEPLOY: Operation.Kind.DEPLOY,
}
REASON_LENGTH = 2000


@dataclass
class Outcome:
    opened: list[Incident] = field(default_factory=list)
    resolved: int = 0


def _latest_verification() -> str | None:
    """The latest finished verification's failure ("" when it passed, None if none ran)."""
    latest = (
        VerificationRun.objects.exclude(status=VerificationRun.Status.RUNNING)
        .order_by("-started_at")
        .first()
    )
    if latest is None:
        return None
    if latest.status == VerificationRun.Status.PASSED:
        return ""
    return stored_text.stored(
        said(
            N_("Verification run #%(id)d of %(database)s failed: %(failed)d checks failed."),
            id=latest.pk, database=latest.database_name, failed=latest.failed,
        )
    )  # fmt: skip


def _latest_operation(kind: str) -> str | None:
    latest = (
        Operation.objects.filter(
            kind=kind, status__in=[Operation.Status.SUCCEEDED, Operation.Status.FAILED]
        )
        .order_by("-finished_at", "-pk")
        .first()
    )
    if latest is None:
        return None
    if latest.status == Operation.Status.SUCCEEDED:
        return ""
    operation = said(
        N_("%(kind)s #%(id)d"), kind=stored_text.label(latest.get_kind_display()), id=latest.pk
    )
    error = stored_text.said_by_text(latest.error)
    return stored_text.stored(
        said(N_("%(operation)s failed: %(error)s"), operation=operation, error=error or "-")
    )


def overdue_schedules(*, now: datetime) -> dict[str, str]:
    """Enabled schedules not run for twice their period, with why."""
    found: dict[str, str] = {}
    for schedule in Schedule.objects.filter(enabled=True):
        since = schedule.last_run_at or schedule.created_at
        turn = timing.period(schedule, at=since)
        if turn.total_seconds() > 0 and now - since > 2 * turn:
            found[schedule.name] = stored_text.stored(
                said(
                    N_("The schedule %(name)s has not run since %(since)s (it runs %(timing)s)."),
                    name=schedule.name,
                    since=timezone.localtime(since).strftime("%Y-%m-%d %H:%M"),
                    timing=schedule.timing_display,
                )
            )
    return found


def open_incidents() -> QuerySet[Incident]:
    return Incident.objects.filter(resolved_at__isnull=True)


def _open(kind: str, subject: str, reason: str, *, now: datetime) -> Incident | None:
    """Open (and mail) the incident unless one is open already."""
    if open_incidents().filter(kind=kind, subject=subject).exists():
        return None
    try:
        with transaction.atomic(using=tenant_context.current_alias()):
            incident = Incident.objects.create(
                kind=kind,
                subject=subject,
                opened_at=now,
                reason=reason if stored_text.parsed(reason) else reason[:REASON_LENGTH],
            )
            title = str(incident)
            body = "\n\n".join(
                [
                    stored_text.read(reason),
                    _("Opened at %(time)s. The platform admin lists incidents and schedules.")
                    % {"time": timezone.localtime(now).strftime("%Y-%m-%d %H:%M:%S %Z")},
                ]
            )
            incident.mailed_to = notify.mail_operations_staff(subject=title, body=body)
            incident.mailed_at = now if incident.mailed_to else None
            incident.save(update_fields=["mailed_to", "mailed_at"])
    except IntegrityError:  # another worker opened it first
        return None
    return incident


def _resolve(kind: str, subjects: QuerySet[Incident], *, now: datetime) -> int:
    return subjects.filter(kind=kind).update(resolved_at=now)


def evaluate(*, now: datetime | None = None) -> Outcome:
    """Open the incidents that are true now, resolve those that are not any more."""
    now = now or timezone.now()
    outcome = Outcome()
    failures: dict[str, str | None] = {Incident.Kind.VERIFICATION: _latest_verification()}
    for kind, operation_kind in OPERATION_KINDS.items():
        failures[kind] = _latest_operation(operation_kind)
    for kind, failure in failures.items():
        if failure:
            if incident := _open(kind, "", failure, now=now):
                outcome.opened.append(incident)
        elif failure == "":
            outcome.resolved += _resolve(kind, open_incidents(), now=now)
    overdue = overdue_schedules(now=now)
    for name, reason in overdue.items():
        if incident := _open(Incident.Kind.SCHEDULE, name, reason, now=now):
            outcome.opened.append(incident)
    outcome.resolved += _resolve(
        Incident.Kind.SCHEDULE, open_incidents().exclude(subject__in=list(overdue)), now=now
    )
    return outcome
