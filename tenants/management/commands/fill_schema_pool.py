from typing import Any

from django.core.management.base import BaseCommand

from tenants.schema_pool import fill_schema_pool


class Command(BaseCommand):
    help = "Build ready company schemas for instant provisioning; drop outdated ones."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--size", type=int, default=None, help="Schemas to keep ready.")

    def handle(self, *args: Any, **options: Any) -> None:
        built = fill_schema_pool(size=options["size"])
        self.stdout.write(f"{len(built)} schema(s) built: {', '.join(built) or '-'}")
