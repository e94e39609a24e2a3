from typing import Any

from django.core.management.base import BaseCommand

from tenants.schema_pool import fill_schema_pool


class Command(BaseCommand):
    help = "Build ready company schemas for instant provisioning; drop outdated ones."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--size", type=int, default=None, help="Schemas to keep ready.")
        parser.add_argument(
            "--by-migrations",
            action="store_true",
            help="Run the migrations for every schema instead of cloning one (slower).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        built = fill_schema_pool(size=options["size"], clone=not options["by_migrations"])
        self.stdout.write(f"{len(built)} schema(s) built: {', '.join(built) or '-'}")
