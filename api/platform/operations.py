"""``operations``: start a verification, a backup or a deploy; poll its progress."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from api.auth import AUTH
from api.company.common import get_or_404
from api.platform.access import require_superuser
from api.platform.schemas import OperationOut, OperationStart
from deployments.actions import start_operation
from deployments.admin import deploy_progress
from deployments.deploys import DEFAULT_EXECUTOR
from deployments.models import Operation
from qiro import stored_text

router = Router(tags=["operations"], auth=AUTH)


def operation_out(op: Operation) -> dict[str, Any]:
    return {
        "id": op.pk, "kind": op.kind, "status": op.status, "requested_by": op.requested_by,
        "created_at": op.created_at, "started_at": op.started_at,
        "finished_at": op.finished_at, "steps_done": op.steps_done,
        "steps_total": op.steps_total, "percent": op.percent, "finished": op.is_finished,
        "log": stored_text.read_log(op.log), "error": stored_text.read(op.error, "\n\n"),
        "schemas": deploy_progress(op),
    }  # fmt: skip


@router.get("", response=list[OperationOut], summary="The latest operations")
def list_operations(request: HttpRequest) -> list[dict[str, Any]]:
    require_superuser(request, scope="platform:read")
    return [operation_out(op) for op in Operation.objects.order_by("-created_at", "-id")[:50]]


@router.post("", response={202: OperationOut}, summary="Start an operation")
def start(request: HttpRequest, body: OperationStart) -> Status[dict[str, Any]]:
    """Queued for the worker, as the admin's buttons do; poll ``operations/{id}``."""
    user = require_superuser(request, scope="platform:write")
    parameters: dict[str, Any] = {}
    if body.kind == Operation.Kind.BACKUP:
        parameters = {"company_schema": body.company_schema}
    elif body.kind == Operation.Kind.DEPLOY:
        parameters = {"executor": DEFAULT_EXECUTOR}
    operation = start_operation(kind=body.kind, parameters=parameters, acting_user=user)
    return Status(202, operation_out(operation))


@router.get("/{operation_id}", response=OperationOut, summary="One operation's progress")
def progress(request: HttpRequest, operation_id: int) -> dict[str, Any]:
    require_superuser(request, scope="platform:read")
    return operation_out(get_or_404(Operation, operation_id))
