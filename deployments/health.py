"""Readiness: can this installation serve companies right now?

Every check reads through the runtime roles, never the owner: the database
check connects as the runtime role, the others read the platform's records
as the platform role, and the migration state comes from
``qiro_migration_counts`` (SECURITY DEFINER, migration ``deployments/0003``),
which answers with two counts and nothing else. The details (error texts,
counts, ids) are for platform staff and token holders only; see
``deployments.views.health_ready``.

Open incidents (``deployments.scheduling.alerts``: a failed backup, test
restore, deploy or verification, a schedule that stopped running) do not
make the installation unready; they make a ready one ``degraded``, with
their reasons in the details.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import Error as DatabaseFailure
from django.db import connections
from django.utils import timezone

from deployments.models import Operation, VerificationRun, WorkerHeartbeat
from deployments.scheduling.alerts import open_incidents
from qiro import stored_text, tenant_context
from qiro.migration_state import expected_migrations
from qiro.tenant_context import PLATFORM_ALIAS, RUNTIME_ALIAS

Check = dict[str, Any]


def _database() -> Check:
    """The runtime role can connect and run a query."""
    with connections[RUNTIME_ALIAS].cursor() as cursor:
        cursor.execute("SELECT current_user")
        row = cursor.fetchone()
    return {"ok": True, "detail": f"connected as {row[0] if row else '?'}"}


def _expected() -> tuple[list[str], list[str]]:
    """The code's migrations, read from disk each time (about 10 ms).

    Not cached: a deploy run by a long-lived worker migrates to the files on
    disk now, and its health step must expect those.
    """
    apps, names = zip(*sorted(expected_migrations()), strict=True)
    return list(apps), list(names)


def _migrations() -> Check:
    """No migration on disk is unapplied in any schema (counts from one SECURITY DEFINER call)."""
    apps, names = _expected()
    with connections[PLATFORM_ALIAS].cursor() as cursor:
        cursor.execute("SELECT schemas, outdated FROM qiro_migration_counts(%s, %s)", [apps, names])
        row = cursor.fetchone()
    schemas, outdated = row if row else (0, 0)
    return {
        "ok": outdated == 0,
        "detail": f"{schemas} schemas, {outdated} with unapplied migrations",
    }


def _live_worker() -> WorkerHeartbeat | None:
    latest = WorkerHeartbeat.objects.order_by("-last_seen").first()
    if latest is None:
        return None
    age = (timezone.now() - latest.last_seen).total_seconds()
    return latest if age <= settings.QIRO_WORKER_HEARTBEAT_MAX_AGE else None


def _worker() -> Check:
    latest = WorkerHeartbeat.objects.order_by("-last_seen").first()
    if latest is None:
        return {"ok": False, "detail": "no worker has ever reported"}
    age = (timezone.now() - latest.last_seen).total_seconds()
    ok = age <= settings.QIRO_WORKER_HEARTBEAT_MAX_AGE
    return {"ok": ok, "detail": f"last seen {age:.0f} s ago ({latest})"}


def _verification() -> Check:
    latest = VerificationRun.objects.exclude(status=VerificationRun.Status.RUNNING).first()
    if latest is None:
        return {"ok": True, "detail": "never run"}
    return {
        "ok": latest.status == VerificationRun.Status.PASSED,
        "detail": f"{latest.status} at {latest.finished_at:%Y-%m-%dT%H:%M:%S%z}"
        if latest.finished_at
        else latest.status,
    }


def stuck_operations(*, require_worker: bool = True) -> dict[str, list[int]]:
    """Running with an expired lease (nobody holds it), or queued with no live worker."""
    running = Operation.objects.filter(
        status=Operation.Status.RUNNING, lease_expires_at__lt=timezone.now()
    )
    stuck = {"expired_lease": sorted(running.values_list("pk", flat=True))}
    if require_worker and _live_worker() is None:
        queued = Operation.objects.filter(status=Operation.Status.QUEUED)
        stuck["queued_without_worker"] = sorted(queued.values_list("pk", flat=True))
    return stuck


def _operations(*, require_worker: bool) -> Check:
    stuck = stuck_operations(require_worker=require_worker)
    if not any(stuck.values()):
        return {"ok": True, "detail": "no stuck operation"}
    return {"ok": False, "detail": {reason: ids[:20] for reason, ids in stuck.items() if ids}}


def _degraded() -> list[str]:
    """The reasons of the open incidents, oldest first."""
    return [
        f"{incident}: {stored_text.read(incident.reason)}"
        for incident in open_incidents().order_by("opened_at")[:20]
    ]


def status_of(report: dict[str, Any]) -> str:
    """``ok``, ``degraded`` (ready, with open incidents) or ``unavailable``."""
    if not report["ready"]:
        return "unavailable"
    return "degraded" if report.get("degraded") else "ok"


def _guarded(check: Callable[[], Check]) -> Check:
    """A check that cannot reach the database fails; it never raises."""
    try:
        return check()
    except DatabaseFailure as error:
        return {"ok": False, "detail": str(error).strip()}


_recent: dict[str, Any] = {}
_recent_lock = threading.Lock()


def recent_readiness(*, max_age: float) -> dict[str, Any]:
    """``readiness()``, computed at most once per ``max_age`` seconds in this process.

    For anonymous probes: the migration count reads every schema's records
    (about 0.5 s at a thousand companies), which strangers must not be able
    to repeat at will.
    """
    with _recent_lock:
        report = _recent.get("report")
        if report is None or time.monotonic() - _recent["at"] > max_age:
            report = readiness()
            _recent.update(report=report, at=time.monotonic())
        return report


def forget_recent_readiness() -> None:
    with _recent_lock:
        _recent.clear()


def readiness(*, require_worker: bool = True) -> dict[str, Any]:
    """Every readiness check with its detail, and whether all of them pass."""
    with tenant_context.platform_context():
        checks = {"database": _guarded(_database), "migrations": _guarded(_migrations)}
        checks["worker"] = (
            _guarded(_worker) if require_worker else {"ok": True, "detail": "not required"}
        )
        checks["verification"] = _guarded(_verification)
        checks["operations"] = _guarded(lambda: _operations(require_worker=require_worker))
        try:
            degraded = _degraded()
        except DatabaseFailure as error:  # the checks above say why; nothing to add
            degraded = [str(error).strip()]
    return {
        "ready": all(c["ok"] for c in checks.values()),
        "degraded": degraded,
        "checks": checks,
        "time": timezone.now().isoformat(),
    }
