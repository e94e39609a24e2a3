"""Back up the whole database, or one company's schema (pg_dump -Fd, parallel jobs)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, no_translations

from deployments.models import Backup, Operation

from ._operation import run_here


class Command(BaseCommand):
    help = "Back up the whole database or, with --company, one company's schema."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--company", default="", help="the company's schema (slug)")

    @no_translations  # the command speaks English, stored messages too
    def handle(self, *args: Any, **options: Any) -> None:
        _operation, outcome = run_here(
            Operation.Kind.BACKUP, {"company_schema": options["company"]}
        )
        backup = Backup.objects.using("owner").get(pk=outcome["backup"])
        self.stdout.write(
            self.style.SUCCESS(f"Backup #{backup.pk}: {backup.file_path}")
            + f"\n  {backup.size_bytes} bytes, sha256 {backup.sha256}, "
            f"{backup.entry_count} entries, {len(backup.schemas)} schemas, "
            f"{backup.duration_seconds:.2f} s, {backup.pg_dump_version}"
        )
