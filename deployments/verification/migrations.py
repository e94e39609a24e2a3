"""Every migration of the code is recorded as applied in every schema."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop as N_

from deployments.verification.base import Check, Result
from qiro.migration_state import MigrationState, expected_migrations, migration_state
from qiro.stored_text import Message, said


class MigrationsCheck(Check):
    name = "migrations"
    title = N_("Migrations applied")

    def declared(self, verifier: Any) -> frozenset[tuple[str, str]]:
        return expected_migrations()

    def query(self, verifier: Any, declared: frozenset[tuple[str, str]]) -> MigrationState:
        with verifier.conn.cursor() as cursor:
            return migration_state(cursor, verifier.all_schemas, declared)

    def findings(self, verifier: Any, declared: Any, state: MigrationState) -> list[Result]:
        problems: dict[str, list[Message]] = {
            s: [said(N_("no django_migrations table"))] for s in state.no_table
        }
        for schema, missing in state.outdated.items():
            if schema not in problems:
                names = sorted(f"{app}.{name}" for app, name in missing)
                shown = names[:10] + (["…"] if len(names) > 10 else [])
                problems[schema] = [said(N_("not applied: %(migrations)s"), migrations=shown)]
        applied = dict.fromkeys(
            verifier.all_schemas, said(N_("%(count)d migrations applied"), count=len(declared))
        )
        return self.per_schema(verifier.all_schemas, problems, applied)
