"""Remove what interrupted provisionings left (``tenants.repair.repair_provisioning``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tenants.repair import IN_PROGRESS, repair_provisioning


class Command(BaseCommand):
    help = (
        "Remove the traces of provisionings that were interrupted (a marked schema, a company "
        "still being set up), so that each approval ends as an active company or as no trace. "
        "Provisionings still running are left alone. Safe at any time."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        found = repair_provisioning()
        for leftover in found:
            style = self.style.WARNING if leftover.outcome == IN_PROGRESS else self.style.SUCCESS
            self.stdout.write(style(leftover.message))
        if options["verbosity"] >= 1 and not found:
            self.stdout.write("Provisioning: nothing interrupted was left.")
