"""Deploys: backup → migrate every schema → verify → health check; restore on failure."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from deployments import health
from deployments.backups import create_backup, expected_confirmation, restore_live
from deployments.models import Deployment, Operation
from deployments.services import log, run_verification, step
from qiro.tenant_context import OWNER_ALIAS, owner_context

STEPS = ("backup", "migrate", "verify", "health", "restore")


class DeployFailed(RuntimeError):
    pass


def _record(deployment: Deployment, name: str, status: str, detail: str = "") -> None:
    steps = [s for s in deployment.steps if s["name"] != name]
    previous: dict[str, Any] = next((s for s in deployment.steps if s["name"] == name), {})
    now = timezone.now().isoformat()
    steps.append(
        {
            "name": name,
            "status": status,
            "started": previous.get("started", now),
            "finished": now if status != "running" else None,
            "detail": detail[-4000:],
        }
    )
    deployment.steps = steps
    # The row may have been re-created by a whole-database restore: save by pk.
    Deployment.objects.update_or_create(
        pk=deployment.pk,
        defaults={
            "steps": steps,
            "status": deployment.status,
            "reason": deployment.reason,
            "backup_id": deployment.backup_id,
            "verification_id": deployment.verification_id,
            "finished_at": deployment.finished_at,
            "operation_id": deployment.operation_id,
        },
    )


def migrate_all(*, executor: str = "standard") -> None:
    """``migrate_schemas`` over public and every company schema, as the owner."""
    with owner_context():
        call_command("migrate_schemas", interactive=False, verbosity=0, executor=executor)
    connections[OWNER_ALIAS].set_schema_to_public()  # type: ignore[attr-defined]
    from qiro.db.roles import apply_public_grants

    with connections[OWNER_ALIAS].cursor() as cursor:
        apply_public_grants(cursor)


def deploy(
    *,
    operation: Operation | None = None,
    executor: str = "standard",
    migrate: Callable[..., Any] = migrate_all,
) -> Deployment:
    """Run a deploy and record every step on a ``Deployment`` row.

    On any failure after the backup, the backup is restored over the live
    database (its own confirmation is the database name, given here by the
    deploy itself) and the reason is recorded. Returns the deployment; its
    status says whether it succeeded or was rolled back.
    """
    deployment = Deployment.objects.create(operation=operation)
    if operation is not None:
        Operation.objects.filter(pk=operation.pk).update(steps_total=len(STEPS))

    def progress(line: str) -> None:
        if operation is not None:
            step(operation, line)

    current = "backup"
    try:
        _record(deployment, "backup", "running")
        backup = create_backup()
        deployment.backup = backup
        _record(deployment, "backup", "done", f"{backup.file_path} ({backup.size_bytes} bytes)")
        progress("backup done")

        current = "migrate"
        _record(deployment, "migrate", "running")
        migrate(executor=executor)
        _record(deployment, "migrate", "done", f"migrate_schemas, {executor} executor")
        progress("migrations applied")

        current = "verify"
        _record(deployment, "verify", "running")
        run = run_verification(observations=False)
        deployment.verification = run
        if run.failed:
            raise DeployFailed(f"verification found {run.failed} failures (run #{run.pk})")
        _record(deployment, "verify", "done", f"{run.passed} checks passed")
        progress("verification passed")

        current = "health"
        _record(deployment, "health", "running")
        report = health.readiness(require_worker=False)
        if not report["ready"]:
            raise DeployFailed(f"health check failed: {report['checks']}")
        _record(deployment, "health", "done", "ready")
        progress("health check passed")
    except Exception as error:
        deployment.reason = f"{current}: {error}"
        _record(deployment, current, "failed", traceback.format_exc(limit=6))
        if operation is not None:
            log(operation, f"{current} failed: {error}")
        if deployment.backup is None:
            deployment.status = Deployment.Status.FAILED
            deployment.finished_at = timezone.now()
            _record(deployment, "restore", "skipped", "no backup was made")
            return deployment
        _record(deployment, "restore", "running")
        try:
            restore_live(
                backup=deployment.backup,
                confirmation=expected_confirmation(deployment.backup),
            )
        except Exception as restore_error:
            deployment.status = Deployment.Status.FAILED
            deployment.reason += f"\nrestore failed too: {restore_error}"
            deployment.finished_at = timezone.now()
            _record(deployment, "restore", "failed", str(restore_error))
            return deployment
        deployment.status = Deployment.Status.ROLLED_BACK
        deployment.finished_at = timezone.now()
        _record(deployment, "restore", "done", f"restored backup #{deployment.backup.pk}")
        progress("rolled back")
        return deployment
    deployment.status = Deployment.Status.SUCCEEDED
    deployment.finished_at = timezone.now()
    _record(deployment, "restore", "skipped", "not needed")
    return deployment
