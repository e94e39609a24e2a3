from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from registration.partitions import maintain_token_partitions


class Command(BaseCommand):
    help = "Create the e-mail token partitions ahead and drop those past retention."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--months-ahead", type=int, default=settings.QIRO_TOKEN_PARTITIONS_AHEAD
        )
        parser.add_argument(
            "--retention-months", type=int, default=settings.QIRO_TOKEN_RETENTION_MONTHS
        )

    def handle(self, *args: Any, **options: Any) -> None:
        changes = maintain_token_partitions(
            months_ahead=options["months_ahead"], retention_months=options["retention_months"]
        )
        created = ", ".join(changes.created) or "-"
        dropped = ", ".join(changes.dropped) or "-"
        self.stdout.write(f"created: {created}; dropped: {dropped}")
