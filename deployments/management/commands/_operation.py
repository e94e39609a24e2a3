"""Shared by the deployment commands: run an operation here and now, as the CLI user.

The command holds the operation's lease itself (``leases.command_lease``): if
it dies, the operation and its records are failed by the next reaper.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import CommandError

from deployments import actions, leases
from deployments.models import Operation
from deployments.tasks import execute
from qiro import tenant_context


def run_here(kind: str, parameters: dict[str, Any]) -> tuple[Operation, Any]:
    """Record and execute an operation synchronously (platform records, owner database work)."""
    with tenant_context.platform_context(), leases.command_lease():
        operation = actions.start_operation(
            kind=kind,
            parameters=parameters,
            acting_user=None,
            requested_by=f"cli:{getpass.getuser()}",
            queue=False,
        )
        try:
            outcome = execute(operation)
        except Exception as error:
            operation.refresh_from_db()
            raise CommandError(f"{operation}: {error}") from error
        operation.refresh_from_db()
    return operation, outcome
