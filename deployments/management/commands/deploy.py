"""Deploy: backup, migrate every schema, verify, health check; restore the backup on failure."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from deployments.models import Deployment, Operation

from ._operation import run_here


class Command(BaseCommand):
    help = "Backup → migrate_schemas → verify → health check; on failure restore the backup."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--executor", choices=["standard", "multiprocessing"], default="standard",
            help="migrate_schemas executor (multiprocessing pays off with many schemas)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            _operation, outcome = run_here(Operation.Kind.DEPLOY, {"executor": options["executor"]})
        except CommandError:
            latest = Deployment.objects.using("owner").order_by("-pk").first()
            if latest is not None:
                for step in latest.steps:
                    self.stderr.write(f"  {step['name']}: {step['status']}")
                self.stderr.write(
                    f"Deployment #{latest.pk}: {latest.get_status_display()}: {latest.reason}"
                )
            raise
        deployment = Deployment.objects.using("owner").get(pk=outcome["deployment"])
        for step in deployment.steps:
            self.stdout.write(f"  {step['name']}: {step['status']} {step['detail'][:200]}")
        self.stdout.write(self.style.SUCCESS(f"Deployment #{deployment.pk} succeeded."))
