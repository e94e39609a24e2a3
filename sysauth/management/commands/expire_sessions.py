"""Mark sessions past their expiry as expired and drop long-ended ones, in every schema."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from sysauth import actions


class Command(BaseCommand):
    help = (
        "Expire sessions past their expiry date, delete sessions ended more than 30 days ago "
        "and old failed sign-ins, in every company schema and the public schema. The worker's "
        "routine runs it hourly; run it by hand when needed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = actions.clean_sessions_everywhere()
        if options["verbosity"] >= 1:
            self.stdout.write(f"Sessions cleaned in {count} companies and public.")
