"""Make a database ready: roles, migrations in every schema, grants, a platform admin."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from qiro.db.roles import apply_public_grants, ensure_roles, role_name
from qiro.tenant_context import owner_context

OWNER = "owner"


class Command(BaseCommand):
    help = (
        "Create the runtime roles, migrate the public and every company schema, "
        "apply grants and make sure a platform administrator exists. Idempotent."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-superuser", action="store_true", help="Do not create a platform administrator."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[OWNER]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
            )
            row = cursor.fetchone()
            if not row or not row[0]:
                raise CommandError(
                    "The DATABASE_URL user must be a superuser or have BYPASSRLS: it owns the "
                    "tables, which force row-level security on everyone else."
                )
            ensure_roles(cursor)
        # django-tenants lists the company schemas through the ORM: as the owner,
        # or the runtime role (no context, no companies) would hide them all.
        with owner_context():
            call_command(
                "migrate_schemas", interactive=False, verbosity=max(options["verbosity"] - 1, 0)
            )
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            apply_public_grants(cursor)
            _create_statement_statistics(cursor)
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Roles ready: runtime {role_name('app')}, platform {role_name('platform')}."
            )
        if not options["no_superuser"]:
            self._ensure_platform_admin()

    def _ensure_platform_admin(self) -> None:
        from sysauth.models import User

        email = settings.QIRO_SUPERUSER_EMAIL.lower()
        users = User.objects.db_manager(OWNER)
        if users.filter(email=email, company_id__isnull=True).exists():
            return
        password = settings.QIRO_SUPERUSER_PASSWORD or secrets.token_urlsafe(12)
        users.create_superuser(email, password, full_name="Platform administrator")
        shown = "(from QIRO_SUPERUSER_PASSWORD)" if settings.QIRO_SUPERUSER_PASSWORD else password
        self.stdout.write(
            self.style.SUCCESS(
                f"Platform administrator created: {email} / {shown}\n"
                "The password is shown only this once. Change it with "
                "`manage.py changepassword --database owner " + email + "`."
            )
        )


def _create_statement_statistics(cursor: Any) -> None:
    """pg_stat_statements, when the server preloads it (the embedded one does)."""
    cursor.execute(
        "SELECT 'pg_stat_statements' = ANY(string_to_array(current_setting("
        "'shared_preload_libraries'), ', ')) AND EXISTS (SELECT 1 FROM pg_available_extensions "
        "WHERE name = 'pg_stat_statements')"
    )
    if cursor.fetchone()[0]:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
