"""Readiness: can this installation serve companies right now?"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

from deployments import pg
from deployments.models import VerificationRun, WorkerHeartbeat
from deployments.services import runtime_roles
from deployments.verification import FAIL, Verifier
from qiro.tenant_context import RUNTIME_ALIAS


def _database() -> dict[str, Any]:
    """The runtime role can connect and run a query."""
    try:
        with connections[RUNTIME_ALIAS].cursor() as cursor:
            cursor.execute("SELECT current_user")
            row = cursor.fetchone()
    except DatabaseError as error:
        return {"ok": False, "detail": str(error).strip()}
    return {"ok": True, "detail": f"connected as {row[0] if row else '?'}"}


def _migrations() -> dict[str, Any]:
    """No migration on disk is unapplied in any schema (one catalog query for all)."""
    try:
        with pg.connect() as conn:
            verifier = Verifier(conn, runtime_roles=runtime_roles())
            results = verifier.check_schemas() + verifier.check_migrations()
    except Exception as error:
        return {"ok": False, "detail": str(error).strip()}
    failing = [
        f"{r.schema}: {r.found}" for r in results if r.check == "migrations" and r.outcome == FAIL
    ]
    return {"ok": not failing, "detail": failing[:5] or f"{len(verifier.all_schemas)} schemas"}


def _worker() -> dict[str, Any]:
    latest = WorkerHeartbeat.objects.order_by("-last_seen").first()
    if latest is None:
        return {"ok": False, "detail": "no worker has ever reported"}
    age = (timezone.now() - latest.last_seen).total_seconds()
    ok = age <= settings.QIRO_WORKER_HEARTBEAT_MAX_AGE
    return {"ok": ok, "detail": f"last seen {age:.0f} s ago ({latest})"}


def _verification() -> dict[str, Any]:
    latest = VerificationRun.objects.exclude(status=VerificationRun.Status.RUNNING).first()
    if latest is None:
        return {"ok": True, "detail": "never run"}
    return {
        "ok": latest.status == VerificationRun.Status.PASSED,
        "detail": f"{latest.status} at {latest.finished_at:%Y-%m-%dT%H:%M:%S%z}"
        if latest.finished_at
        else latest.status,
    }


def readiness(*, require_worker: bool = True) -> dict[str, Any]:
    """Every readiness check with its detail, and whether all of them pass."""
    checks = {"database": _database(), "migrations": _migrations()}
    checks["worker"] = _worker() if require_worker else {"ok": True, "detail": "not required"}
    checks["verification"] = _verification()
    return {
        "ready": all(c["ok"] for c in checks.values()),
        "checks": checks,
        "time": timezone.now().isoformat(),
    }
