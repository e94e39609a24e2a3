"""Verify the database against the declared expectations; exit non-zero on any failure."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, no_translations

from deployments import leases
from deployments.models import CheckResult, Operation
from deployments.services import create_operation, run_verification, running
from qiro import tenant_context
from qiro.stored_text import read


class Command(BaseCommand):
    help = "Check public and every company schema against what the code declares."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-observations", action="store_true")

    @no_translations  # the command speaks English, stored messages too
    def handle(self, *args: Any, **options: Any) -> None:
        with tenant_context.platform_context(), leases.command_lease():
            operation = create_operation(kind=Operation.Kind.VERIFY, requested_by="cli")
            with running(operation):
                run = run_verification(
                    operation=operation, observations=not options["no_observations"]
                )
            failures = run.results.filter(outcome=CheckResult.Outcome.FAIL)
            for result in failures.order_by("check_name", "schema_name"):
                self.stdout.write(
                    self.style.ERROR(
                        f"FAIL {result.check_name} [{result.schema_name or '-'}] "
                        f"expected: {read(result.expected)} | found: {read(result.found)}"
                    )
                )
            for result in run.results.filter(outcome=CheckResult.Outcome.SKIP):
                self.stdout.write(f"skip {result.check_name}: {read(result.found)}")
            self.stdout.write(
                f"Verification #{run.pk} of {run.database_name}: {run.status} — "
                f"{run.schema_count} schemas, {run.passed} passed, {run.failed} failed, "
                f"{run.skipped} skipped in {run.duration_seconds:.2f} s"
            )
        if run.failed:
            sys.exit(1)
