"""Background tasks: every long job is an ``Operation`` run by ``run_operation``.

Enqueued from platform-admin requests (platform role) into the database
queue in ``public``; run by ``manage.py worker`` in the platform context.
The database work itself uses the owner's credentials (see ``qiro.db.pg``).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django_tasks import task

from deployments import backups, citus_move, deploys
from deployments.models import Backup, Operation
from deployments.services import create_operation, run_verification, running


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
            backup = backups.run_test_restore(
                backup=Backup.objects.get(pk=params["backup"]), operation=operation
            )
            if not backup.test_restore_ok:
                raise backups.BackupError(backup.test_restore_report)
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
                raise deploys.DeployFailed(deployment.reason)
            return {"deployment": deployment.pk}
        if kind == Operation.Kind.MOVE:
            return citus_move.move_company(
                schema_name=params["company_schema"], node=params["node"], operation=operation
            )
    raise ValueError(f"unknown operation kind {kind!r}")


@task()
def run_operation(operation_id: int) -> Any:
    return execute(Operation.objects.get(pk=operation_id))


def enqueue(
    *, kind: str, requested_by: str = "", parameters: dict[str, Any] | None = None
) -> Operation:
    """Record an operation and queue it for the worker."""
    operation = create_operation(kind=kind, requested_by=requested_by, parameters=parameters)
    result = run_operation.enqueue(operation.pk)
    Operation.objects.filter(pk=operation.pk).update(task_id=str(result.id))
    operation.task_id = str(result.id)
    return operation


def queue_company_move(
    sender: Any, *, company_schema: str, node: str, requested_by: str = "", **_: Any
) -> str:
    """Receiver of ``tenants.admin_nodes.move_requested``: the move as an operation.

    Answers the admin URL of the operation, where its progress shows.
    """
    operation = enqueue(
        kind=Operation.Kind.MOVE,
        requested_by=requested_by,
        parameters={"company_schema": company_schema, "node": node},
    )
    return reverse("platform_admin:deployments_operation_change", args=[operation.pk])
