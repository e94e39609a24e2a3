"""Every migration of the code is recorded as applied in every schema."""

from __future__ import annotations

from typing import Any

from deployments.verification.base import Check, Result, per_schema
from qiro.migration_state import MigrationState, expected_migrations, migration_state


class MigrationsCheck(Check):
    name = "migrations"

    def declared(self, verifier: Any) -> frozenset[tuple[str, str]]:
        return expected_migrations()

    def query(self, verifier: Any, declared: frozenset[tuple[str, str]]) -> MigrationState:
        with verifier.conn.cursor() as cursor:
            return migration_state(cursor, verifier.all_schemas, declared)

    def findings(self, verifier: Any, declared: Any, state: MigrationState) -> list[Result]:
        problems: dict[str, list[str]] = {s: ["no django_migrations table"] for s in state.no_table}
        for schema, missing in state.outdated.items():
            if schema not in problems:
                names = sorted(f"{app}.{name}" for app, name in missing)
                shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
                problems[schema] = [f"not applied: {shown}"]
        applied = dict.fromkeys(verifier.all_schemas, f"{len(declared)} migrations applied")
        return per_schema(self.name, verifier.all_schemas, problems, applied)
