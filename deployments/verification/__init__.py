"""Compare the database with what the code declares, in public and every company schema.

Each check is one module with one class (declared → query → findings, see
``base``), listed once in ``CHECKS`` or ``OBSERVATIONS`` below. Each runs one
set-based catalog query for all schemas at once (never a query per schema),
so a run over thousands of schemas costs a handful of statements. The
expectations come from the code (``qiro.rls``, ``qiro.db.objects``,
``qiro.expectations``, ``qiro.db.roles``, the models' fields and ``Meta``).

Observations (slow statements, sizes, unused indexes, dead tuples) are
recorded as information, never as failures. The verifier takes a plain
psycopg connection, so it checks a scratch database restored from a backup
the same way as the live one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from deployments.verification import (
    citus_placement,
    company_constraint,
    declared_names,
    definer_functions,
    enum_types,
    grants,
    migrations,
    observations,
    partitions,
    policies,
    privileges,
    roles,
    row_security,
    schemas,
    signup_policies,
    triggers,
)
from deployments.verification.base import COMPANY, PUBLIC, Check, Result

# In this order: ``schemas`` finds the company schemas the others look at.
CHECKS: tuple[type[Check], ...] = (
    schemas.SchemasCheck,
    migrations.MigrationsCheck,
    row_security.RowSecurityCheck,
    policies.PoliciesCheck,
    enum_types.EnumTypesCheck,
    declared_names.IndexesCheck,
    declared_names.ConstraintsCheck,
    triggers.TriggersCheck,
    partitions.PartitionsCheck,
    roles.RolesCheck,
    privileges.PrivilegesCheck,
    grants.GrantsCheck,
    definer_functions.DefinerFunctionsCheck,
    signup_policies.SignupPoliciesCheck,
    company_constraint.CompanyConstraintCheck,
    citus_placement.CitusPlacementCheck,
)
OBSERVATIONS: tuple[type[Check], ...] = (
    observations.SlowStatements,
    observations.LargestSchemas,
    observations.TableSizes,
    observations.UnusedIndexes,
    observations.DeadTuples,
)


def check_names(*, observations: bool = True) -> list[str]:
    return [c.name for c in CHECKS + (OBSERVATIONS if observations else ())]


def check_title(name: str) -> str:
    """The message that names a check for people (its ``title``), or the name if unknown."""
    return next((c.title for c in CHECKS + OBSERVATIONS if c.name == name), name)


class Verifier:
    """Runs the registered checks on one database; ``run()`` returns the results."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        *,
        runtime_roles: dict[str, str],
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.conn = conn
        self.runtime_roles = runtime_roles  # {"app": name, "platform": name}
        self.progress = progress or (lambda _name: None)
        self.companies: list[str] = []

    def rows(self, query: str | sql.Composable, params: list[Any] | None = None) -> list[Any]:
        return self.conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def schemas_for(self, scopes: list[str]) -> list[str]:
        return ([PUBLIC] if PUBLIC in scopes else []) + (
            self.companies if COMPANY in scopes else []
        )

    @property
    def all_schemas(self) -> list[str]:
        return [PUBLIC, *self.companies]

    def run(self, *, observations: bool = True) -> list[Result]:
        results: list[Result] = []
        for check in CHECKS + (OBSERVATIONS if observations else ()):
            self.progress(check.name)
            results += check().run(self)
        return results

    def run_check(self, name: str) -> list[Result]:
        """One check by name, after ``schemas`` (which finds the company schemas)."""
        if name != schemas.SchemasCheck.name:
            schemas.SchemasCheck().run(self)
        (check,) = [c for c in CHECKS + OBSERVATIONS if c.name == name]
        return check().run(self)
