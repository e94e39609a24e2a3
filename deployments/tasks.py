"""Background tasks: every long job is an ``Operation`` run by ``run_operation``.

Queued by ``deployments.actions`` (once the request is committed) into the
database queue in ``public``; run by ``manage.py worker`` in the platform context.
The database work itself uses the owner's credentials (see ``qiro.db.pg``).
"""

from __future__ import annotations

from typing import Any

from django_tasks import task

from deployments import backups, citus_move, deploys, scratch_restore
from deployments.models import Backup, Operation
from deployments.services import run_verification, running
from qiro import stored_text


def execute(operation: Operation) -> Any:
    """Run one operation to its end, recording progress and outcome on it."""
    params = operation.parameters
    kind = operation.kind
    with running(operation, steps_total=4):
        if kind == Operation.Kind.BACKUP:
            backup = backups.create_backup(
                company_schema=params.get("company_schema", ""), operation=operation
            )
            return {"backup": backup.pk}
        if kind == Operation.Kind.TEST_RESTORE:
            backup = scratch_restore.run_test_restore(
                backup=Backup.objects.get(pk=params["backup"]), operation=operation
            )
            if not backup.test_restore_ok:
                raise stored_text.carrying(
                    backups.BackupError(stored_text.read(backup.test_restore_report)),
                    backup.test_restore_report,
                )
            return {"backup": backup.pk, "ok": True}
        if kind == Operation.Kind.RESTORE:
            backups.restore_live(
                backup=Backup.objects.get(pk=params["backup"]),
                confirmation=params.get("confirmation", ""),
                operation=operation,
            )
            return {"backup": params["backup"]}
        if kind == Operation.Kind.VERIFY:
            run = run_verification(operation=operation)
            return {"run": run.pk, "failed": run.failed}
        if kind == Operation.Kind.DEPLOY:
            deployment = deploys.deploy(
                operation=operation, executor=params.get("executor", deploys.DEFAULT_EXECUTOR)
            )
            if deployment.status != deployment.Status.SUCCEEDED:
                raise stored_text.carrying(
                    deploys.DeployFailed(stored_text.read(deployment.reason)), deployment.reason
                )
            return {"deployment": deployment.pk}
        if kind == Operation.Kind.MOVE:
            return citus_move.move_company(
                schema_name=params["company_schema"], node=params["node"], operation=operation
            )
    raise ValueError(f"unknown operation kind {kind!r}")


@task()
def run_operation(operation_id: int) -> Any:
    return execute(Operation.objects.get(pk=operation_id))
