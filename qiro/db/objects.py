"""The registry of the database objects the code declares, and the installing of triggers.

Nothing here is written twice:

* company-table policies come from the models' ``RowSecurity`` (the isolation
  policy everywhere, the platform policy in ``public``);
* the other policies and the SECURITY DEFINER functions come from the apps'
  ``AppConfig.database_objects`` (e.g. the sign-up's), so the core imports no
  feature app;
* triggers come from the models' ``DatabaseTrigger`` expectations;
* grants come from ``qiro.db.roles`` (broad, narrowed by ``runtime_privileges``,
  the runtime role's ``app_public_access`` in ``public``), partitions from the
  models' ``MonthlyPartitions``.

Policies and triggers carry their hash in a comment (``qiro.db.declared``);
verification compares each kind with this registry in one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from psycopg import sql

from qiro.context import PUBLIC_SCHEMA
from qiro.db.declared import (
    COMPANY,
    DeclaredPolicy,
    md5,
    normal,
    policy_comment,
    trigger_comment,
)
from qiro.db.roles import role_name
from qiro.definer import DeclaredFunction
from qiro.expectations import DatabaseTrigger, declared_expectations, model_scope
from qiro.rls import RowSecurity, isolation_policy, platform_policy, protected_models


def trigger_digest(trigger: DatabaseTrigger) -> str:
    return md5(normal(f"{trigger.name} {trigger.events} {trigger.function_body}"))


@dataclass(frozen=True)
class DeclaredTriggerOn:
    """A declared trigger bound to its table and the schemas it lives in."""

    trigger: DatabaseTrigger
    table: str
    scopes: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.table}.{self.trigger.name}"

    @property
    def digest(self) -> str:
        return trigger_digest(self.trigger)


def _scopes(in_public: bool, in_companies: bool) -> tuple[str, ...]:
    return ((PUBLIC_SCHEMA,) if in_public else ()) + ((COMPANY,) if in_companies else ())


def app_objects() -> list[object]:
    """What the apps declare in ``AppConfig.database_objects``."""
    return [
        obj for config in apps.get_app_configs() for obj in getattr(config, "database_objects", ())
    ]


def declared_policies(*, citus: bool) -> list[DeclaredPolicy]:
    """Every policy the database must hold: the company tables' and the apps' own.

    ``citus``: the server is Citus, whose isolation policies read the company
    per row (``qiro.rls.isolation_using``).
    """
    found: list[DeclaredPolicy] = []
    for model in protected_models():
        rs: RowSecurity = model.row_security  # type: ignore[attr-defined]
        table = model._meta.db_table
        for scope in _scopes(*model_scope(model)):
            found.append(isolation_policy(table, rs.column, scope, citus=citus))
            if rs.platform is not None and scope == PUBLIC_SCHEMA:
                found.append(platform_policy(table, rs.platform))
    found += [obj for obj in app_objects() if isinstance(obj, DeclaredPolicy)]
    return found


def declared_functions() -> list[DeclaredFunction]:
    """Every function in ``public`` that the runtime roles reach (or their helpers)."""
    return [obj for obj in app_objects() if isinstance(obj, DeclaredFunction)]


def declared_triggers() -> list[DeclaredTriggerOn]:
    """Every trigger the models declare, with the body of its function."""
    return [
        DeclaredTriggerOn(d.expectation, d.table, _scopes(d.in_public, d.in_companies))
        for d in declared_expectations()
        if isinstance(d.expectation, DatabaseTrigger)
    ]


def trigger_statements(schema: str, declared: DeclaredTriggerOn) -> list[sql.Composed]:
    """(Re)install a declared trigger and its function in one schema, with its comment."""
    trigger = declared.trigger
    function = sql.Identifier(schema, trigger.name)
    return [
        sql.SQL("CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {}").format(
            function, sql.Literal(trigger.function_body)
        ),
        sql.SQL("CREATE OR REPLACE TRIGGER {} {} ON {} FOR EACH ROW EXECUTE FUNCTION {}()").format(
            sql.Identifier(trigger.name),
            sql.SQL(trigger.events),  # a literal of the model's declaration, never input
            sql.Identifier(schema, declared.table),
            function,
        ),
        trigger_comment(
            schema=schema, table=declared.table, name=trigger.name, digest=declared.digest
        ),
    ]


def reinstall_triggers(cursor: Any, schema_name: str) -> None:
    """Re-create every declared trigger (with a body) whose table is in the schema."""
    declared = [
        d
        for d in declared_triggers()
        if d.trigger.function_body
        and (COMPANY if schema_name != PUBLIC_SCHEMA else PUBLIC_SCHEMA) in d.scopes
    ]
    if not declared:
        return
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = ANY(%s)",
        [schema_name, [d.table for d in declared]],
    )
    present = {row[0] for row in cursor.fetchall()}
    for item in declared:
        if item.table in present:
            for statement in trigger_statements(schema_name, item):
                cursor.execute(statement)


def stamp_declared_policies(cursor: Any) -> int:
    """Give each app-declared policy of ``public`` its hash, if it is exactly as declared.

    The apps' policies (e.g. the sign-up's) are installed by their migrations
    and declared as ``pg_get_expr`` prints them, so "as declared" is an exact
    comparison; one that differs keeps no hash, and verification names it.
    Returns the policies stamped.
    """
    declared = [
        p for p in app_objects() if isinstance(p, DeclaredPolicy) and p.scope == PUBLIC_SCHEMA
    ]
    if not declared:
        return 0
    cursor.execute(
        "SELECT tablename::text, policyname::text, cmd, roles::text[], qual, with_check "
        "FROM pg_policies WHERE schemaname = 'public' AND tablename = ANY(%s) "
        "AND permissive = 'PERMISSIVE'",
        [sorted({p.table for p in declared})],
    )
    found = {(row[0], row[1]): row[2:] for row in cursor.fetchall()}
    stamped = 0
    for policy in declared:
        row = found.get((policy.table, policy.name))
        if row is None or not _as_declared(policy, *row):
            continue
        cursor.execute(
            policy_comment(
                schema=PUBLIC_SCHEMA, table=policy.table, name=policy.name, digest=policy.digest
            )
        )
        stamped += 1
    return stamped


def _same_expression(found: str | None, declared: str | None) -> bool:
    return (found is None) == (declared is None) and normal(found) == normal(declared)


def _as_declared(
    policy: DeclaredPolicy, command: str, roles: list[str], using: str | None, check: str | None
) -> bool:
    return (
        command == policy.command
        and roles == [role_name(policy.role)]
        and _same_expression(using, policy.using)
        and _same_expression(check, policy.check)
    )
