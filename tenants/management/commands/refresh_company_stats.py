from typing import Any

from django.core.management.base import BaseCommand

from tenants.services import refresh_company_stats


class Command(BaseCommand):
    help = "Recompute every company's kept user count and schema size (set-based)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{refresh_company_stats()} companies refreshed.")
