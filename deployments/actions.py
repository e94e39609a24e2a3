"""The platform's requests for long work: backup, test restore, restore, verification, deploy.

A long operation is not run inside a request: each action records the request
(an ``Operation`` and its audit row, in one durable transaction on the alias of
the caller's context: the platform role in the admin, the owner in commands)
and queues the task that runs it on commit, so a rolled-back request queues
nothing. The operation's own record then shows its progress and outcome.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import reverse

from deployments.deploys import DEFAULT_EXECUTOR
from deployments.models import Backup, Operation
from deployments.services import create_operation
from qiro import tenant_context
from sysauth import audit
from sysauth.models import User
from sysauth.models_audit import AuditAction, AuditOutcome

ACTION_OF_KIND: dict[str, str] = {
    Operation.Kind.BACKUP: AuditAction.BACKUP_START,
    Operation.Kind.TEST_RESTORE: AuditAction.BACKUP_TEST_RESTORE,
    Operation.Kind.RESTORE: AuditAction.BACKUP_RESTORE,
    Operation.Kind.VERIFY: AuditAction.VERIFICATION_START,
    Operation.Kind.DEPLOY: AuditAction.DEPLOY_START,
    Operation.Kind.MOVE: AuditAction.COMPANY_MOVE,
}


def _queue(operation: Operation) -> None:
    """Hand the recorded operation to the worker's queue (after the record is committed)."""
    from deployments.tasks import run_operation

    result = run_operation.enqueue(operation.pk)
    operation.task_id = str(result.id)
    Operation.objects.filter(pk=operation.pk).update(task_id=operation.task_id)


def start_operation(
    *,
    kind: str,
    parameters: dict[str, Any],
    acting_user: User | None,
    target: Backup | None = None,
    requested_by: str = "",
    queue: bool = True,
) -> Operation:
    """Record an operation of ``kind`` with its audit row; its task is queued on commit.

    ``requested_by`` names a requester that is no user (a schedule, the CLI);
    ``queue=False`` records an operation the caller runs itself, here and now
    (the deployment commands).
    """
    using = tenant_context.current_alias()
    requester = acting_user.email if acting_user is not None else requested_by
    with transaction.atomic(using=using, durable=True):
        operation = create_operation(kind=kind, requested_by=requester, parameters=parameters)
        audit.record(
            using=using,
            action=ACTION_OF_KIND[kind],
            acting_user=acting_user,
            outcome=AuditOutcome.QUEUED if queue else AuditOutcome.STARTED,
            details={"operation": operation.pk, "requested_by": requester, **parameters},
            target=target if target is not None else operation,
        )
        if queue:
            transaction.on_commit(lambda: _queue(operation), using=using)
    return operation


def start_backup(*, company_schema: str, acting_user: User | None) -> Operation:
    """A backup of one company's schema, or of the whole database (``company_schema`` empty)."""
    return start_operation(
        kind=Operation.Kind.BACKUP,
        parameters={"company_schema": company_schema.strip()},
        acting_user=acting_user,
    )


def start_test_restore(*, backup: Backup, acting_user: User | None) -> Operation:
    """Restore ``backup`` into a scratch database, verify it and drop it."""
    return start_operation(
        kind=Operation.Kind.TEST_RESTORE,
        parameters={"backup": backup.pk},
        acting_user=acting_user,
        target=backup,
    )


def start_restore(*, backup: Backup, confirmation: str, acting_user: User | None) -> Operation:
    """Restore ``backup`` over the live data; the worker checks ``confirmation`` again."""
    return start_operation(
        kind=Operation.Kind.RESTORE,
        parameters={"backup": backup.pk, "confirmation": confirmation},
        acting_user=acting_user,
        target=backup,
    )


def start_verification(*, acting_user: User | None) -> Operation:
    """A verification run over public and every company schema."""
    return start_operation(kind=Operation.Kind.VERIFY, parameters={}, acting_user=acting_user)


def start_deploy(*, acting_user: User | None, executor: str = DEFAULT_EXECUTOR) -> Operation:
    """Backup, migrations, verification; on failure the backup is restored."""
    return start_operation(
        kind=Operation.Kind.DEPLOY, parameters={"executor": executor}, acting_user=acting_user
    )


def queue_company_move(
    sender: Any,
    *,
    company_schema: str,
    node: str,
    acting_user: User | None = None,
    requested_by: str = "",
    **_: Any,
) -> str:
    """Receiver of ``tenants.admin_nodes.move_requested``: the move as an operation.

    Answers the admin URL of the operation, where its progress shows.
    """
    operation = start_operation(
        kind=Operation.Kind.MOVE,
        parameters={"company_schema": company_schema, "node": node},
        acting_user=acting_user,
        requested_by=requested_by,
    )
    return reverse("platform_admin:deployments_operation_change", args=[operation.pk])
