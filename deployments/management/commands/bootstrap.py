"""Make a database ready: roles, migrations in every schema, grants, a platform admin.

Run on every start (``serve``), so it migrates only what needs it: the public
schema always (its ``post_migrate`` work, e.g. token partitions ahead, is
wanted on each start), company schemas only when ``qiro.migration_state``
finds one lacking a migration (one set-based query over all of them).
``--all-schemas`` migrates every company schema as ``migrate_schemas`` does.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from deployments.scheduling.defaults import install_defaults
from qiro.db import pg
from qiro.db.citus import apply_grants_to_shards, apply_public_placement
from qiro.db.roles import (
    RUNTIME_ROLES,
    apply_company_schema_grants,
    apply_public_grants,
    close_side_channels,
    ensure_roles,
    role_name,
)
from qiro.db.secure import secure_public
from qiro.migration_state import company_migration_state, company_schemas
from qiro.server_settings import write_server_settings
from qiro.tenant_context import owner_context
from sysauth.models import User

OWNER = "owner"


class Command(BaseCommand):
    help = (
        "Create the runtime roles, migrate the public schema and every company schema "
        "that lacks a migration, apply grants and make sure a platform administrator "
        "exists. Idempotent."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-superuser", action="store_true", help="Do not create a platform administrator."
        )
        parser.add_argument(
            "--all-schemas",
            action="store_true",
            help="Run the migrations of every company schema, even those already up to date.",
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
            cursor.execute(
                "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)",
                [[role_name(kind) for kind in RUNTIME_ROLES]],
            )
            roles_made = cursor.fetchone()[0] < len(RUNTIME_ROLES)
            ensure_roles(cursor)
        self._migrate(options, roles_made=roles_made)
        pg.owner_on_public()
        with connection.cursor() as cursor:
            apply_public_grants(cursor)
            # On Citus: the same rights on the shards behind the public tables.
            apply_grants_to_shards(cursor, [role_name(kind) for kind in RUNTIME_ROLES])
            write_server_settings(cursor)  # limits and keys the SECURITY DEFINER functions obey
            _create_statement_statistics(cursor)
            left_open = close_side_channels(cursor)  # the extension's views, made just now
        if left_open:
            self.stderr.write(self.style.WARNING(left_open))
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Roles ready: runtime {role_name('app')}, platform {role_name('platform')}."
            )
        installed = install_defaults(using=OWNER)  # only those missing: edits are kept
        if options["verbosity"] >= 1 and installed:
            self.stdout.write(f"Schedules: {installed} default(s) installed.")
        if not options["no_superuser"]:
            self._ensure_platform_admin()
        # What a provisioning killed midway left: removed, or left alone if still running.
        call_command("repair_provisioning", verbosity=options["verbosity"])

    def _migrate(self, options: dict[str, Any], *, roles_made: bool) -> None:
        """The public schema, then the company schemas that need it (or all of them)."""
        verbosity = max(options["verbosity"] - 1, 0)
        connection = connections[OWNER]
        # django-tenants lists the company schemas through the ORM: as the owner,
        # or the runtime role (no context, no companies) would hide them all.
        with owner_context():
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
            pg.owner_on_public()
            with connection.cursor() as cursor:
                # On Citus, before any company schema refers to them and before the grants.
                placed = apply_public_placement(cursor)
                if placed:
                    secure_public(cursor)  # the conversions dropped the objects' hashes
            if placed and options["verbosity"] >= 1:
                self.stdout.write(f"Citus: {', '.join(placed)} placed as declared.")
            if options["all_schemas"]:
                call_command("migrate_schemas", tenant=True, interactive=False, verbosity=verbosity)
                pg.owner_on_public()
                with connection.cursor() as cursor:
                    count = len(company_schemas(cursor))
                if options["verbosity"] >= 1:
                    self.stdout.write(f"Company schemas: {count} migrated (--all-schemas).")
                return
            with connection.cursor() as cursor:
                state = company_migration_state(cursor)
            for schema, missing in state.outdated.items():
                if options["verbosity"] >= 2:
                    shown = ", ".join(sorted(f"{app}.{name}" for app, name in missing)[:5])
                    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                    self.stdout.write(f"Migrating {schema}, which lacks {shown}{more}.")
                # Re-applies the schema's grants too (post_migrate).
                call_command(
                    "migrate_schemas",
                    schema_name=schema,
                    tenant=True,
                    interactive=False,
                    verbosity=verbosity,
                )
        pg.owner_on_public()
        if roles_made and state.up_to_date:
            # A runtime role made just now has no rights in the schemas not migrated above.
            with connection.cursor() as cursor:
                for schema in state.up_to_date:
                    apply_company_schema_grants(cursor, schema)
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Company schemas: {len(state.up_to_date)} up to date, "
                f"{len(state.outdated)} migrated."
            )

    def _ensure_platform_admin(self) -> None:
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
