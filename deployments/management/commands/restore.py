"""Test-restore a backup into a scratch database, or restore it over the live data."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, no_translations

from deployments.backups import expected_confirmation
from deployments.models import Backup, Operation
from qiro.stored_text import read_each

from ._operation import run_here


class Command(BaseCommand):
    help = (
        "restore BACKUP_ID --test: restore into a scratch database, verify, compare, drop.\n"
        "restore BACKUP_ID --confirm NAME: replace the live database (NAME = database name) "
        "or the company's schema (NAME = its slug)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("backup_id", type=int)
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--test", action="store_true")
        mode.add_argument("--confirm", default=None)

    @no_translations  # the command speaks English, stored messages too
    def handle(self, *args: Any, **options: Any) -> None:
        backup = Backup.objects.using("owner").filter(pk=options["backup_id"]).first()
        if backup is None:
            raise CommandError(f"No backup #{options['backup_id']}.")
        if options["test"]:
            run_here(Operation.Kind.TEST_RESTORE, {"backup": backup.pk})
            backup.refresh_from_db()
            self.stdout.write(
                self.style.SUCCESS("Test restore passed.")
                + "\n"
                + "\n".join(read_each(backup.test_restore_report))
            )
            return
        if options["confirm"] != expected_confirmation(backup):
            raise CommandError(
                f"Refusing to restore: pass --confirm {expected_confirmation(backup)} "
                "to replace the live data."
            )
        run_here(Operation.Kind.RESTORE, {"backup": backup.pk, "confirmation": options["confirm"]})
        self.stdout.write(self.style.SUCCESS(f"Backup #{backup.pk} restored."))
