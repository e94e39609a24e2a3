"""The database roles and what each may touch.

owner     the ``DATABASE_URL`` user: owns every object, runs DDL, bypasses RLS.
app       runtime role of every company request and task: DML only, owns
          nothing, NOBYPASSRLS; in ``public`` only what ``APP_PUBLIC_ACCESS``
          grants.
platform  platform-admin role: DML on public tables (row policies still
          apply), no usage of any company schema.

Role names come from the database aliases' ``USER`` (``<db>_app`` and
``<db>_platform`` unless set), so several databases can share one server.
Everything here is idempotent and re-applied: by every migration run (``post_migrate``,
for the schema migrated), and by ``bootstrap`` for the public schema and for any
company schema it skipped while a runtime role was missing rights there.
A model may narrow the runtime roles' rights on its table with
``runtime_privileges`` (e.g. an append-only history: ``("SELECT", "INSERT")``);
that narrowing is applied after the broad grants, every time.
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from psycopg import sql

from qiro.db.catalog import schema_relations
from qiro.db.side_channels import close_statistics_side_channels

RUNTIME_ROLES = {"app": "default", "platform": "platform"}
DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"

# Planner settings of the runtime roles in this database. Memoize keyed by a
# join column, under a row policy whose setting is an InitPlan parameter, made
# the permission-history page 1.5x slower than without row security; off, it
# runs at 1.1x and faster in absolute terms, the other reference queries
# unchanged (``bench/queries.py large``, both settings side by side).
RUNTIME_ROLE_SETTINGS = {"enable_memoize": "off"}

# Public tables the runtime role may use, and how. Models of our own apps
# declare it with ``app_public_access``; Django's own tables are listed here.
CONTRIB_APP_PUBLIC_ACCESS: dict[str, tuple[str, ...]] = {
    "django_content_type": ("SELECT",),
    "auth_permission": ("SELECT",),
}
# Tables no runtime role may touch, in any schema.
OWNER_ONLY_TABLES = ("django_migrations",)


def role_name(kind: str) -> str:
    return str(connections[RUNTIME_ROLES[kind]].settings_dict["USER"])


def _role_password(kind: str) -> str:
    return str(connections[RUNTIME_ROLES[kind]].settings_dict.get("PASSWORD") or "")


def app_public_access() -> dict[str, tuple[str, ...]]:
    from django.apps import apps

    access = dict(CONTRIB_APP_PUBLIC_ACCESS)
    for model in apps.get_models():
        declared = getattr(model, "app_public_access", None)
        if declared:
            access[model._meta.db_table] = tuple(declared)
    return access


def runtime_privileges() -> dict[str, tuple[str, ...]]:
    """Tables on which the runtime roles get less than full DML (``runtime_privileges``).

    E.g. an append-only history declares ``runtime_privileges = ("SELECT", "INSERT")``.
    """
    from django.apps import apps

    declared: dict[str, tuple[str, ...]] = {}
    for model in apps.get_models():
        privileges = getattr(model, "runtime_privileges", None)
        if privileges is not None:
            declared[model._meta.db_table] = tuple(privileges)
    return declared


def _narrow_to_declared(cursor: Any, schema_name: str, roles: list[str]) -> None:
    """After the broad grants: cut the declared tables down to their declared privileges."""
    declared = runtime_privileges()
    cursor.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename = ANY(%s)",
        [schema_name, list(declared)],
    )
    grantees = sql.SQL(", ").join(sql.Identifier(r) for r in roles)
    for (table,) in cursor.fetchall():
        target = sql.Identifier(schema_name, table)
        cursor.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(target, grantees))
        privileges = [p for p in declared[table] if p in DML]
        if privileges:
            cursor.execute(
                sql.SQL("GRANT {} ON {} TO {}").format(
                    sql.SQL(", ").join(sql.SQL(p) for p in privileges), target, grantees
                )
            )


def ensure_roles(cursor: Any) -> None:
    """Create (or correct) the runtime roles and the owner's default privileges."""
    cursor.execute("SELECT current_user, current_database()")
    owner, database = cursor.fetchone()
    for kind in RUNTIME_ROLES:
        name = sql.Identifier(role_name(kind))
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role_name(kind)])
        verb = "ALTER" if cursor.fetchone() else "CREATE"
        statement = sql.SQL("{verb} ROLE {name} WITH {attributes}").format(
            verb=sql.SQL(verb), name=name, attributes=sql.SQL(ROLE_ATTRIBUTES)
        )
        password = _role_password(kind)
        if password:
            statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
        cursor.execute(statement)
        cursor.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), name)
        )
        for setting, value in RUNTIME_ROLE_SETTINGS.items():
            cursor.execute(
                sql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = {}").format(
                    name, sql.Identifier(database), sql.Identifier(setting), sql.Literal(value)
                )
            )
    app = sql.Identifier(role_name("app"))
    for privileges in (
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}").format(app),
        sql.SQL("GRANT USAGE, SELECT ON SEQUENCES TO {}").format(app),
        sql.SQL("GRANT USAGE ON SCHEMAS TO {}").format(app),
    ):
        # Company schemas created later (by this owner) come with these grants.
        cursor.execute(
            sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} {}").format(
                sql.Identifier(owner), privileges
            )
        )


def apply_public_grants(cursor: Any) -> None:
    """Reset the runtime roles' rights on public tables to what is declared."""
    app, platform = sql.Identifier(role_name("app")), sql.Identifier(role_name("platform"))
    for statement in (
        "GRANT USAGE ON SCHEMA public TO {app}, {platform}",
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {app}, {platform}",
        "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {app}, {platform}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {platform}",
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {platform}",
    ):
        cursor.execute(sql.SQL(statement).format(app=app, platform=platform))
    for table, privileges in app_public_access().items():
        cursor.execute(
            sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(", ").join(sql.SQL(p) for p in privileges if p in DML),
                sql.Identifier("public", table),
                app,
            )
        )
    _narrow_to_declared(cursor, "public", [role_name("platform")])
    _revoke_owner_only(cursor, "public")
    close_side_channels(cursor)


def close_side_channels(cursor: Any) -> str | None:
    """The runtime roles read no other session's statements nor other schemas' counters.

    After the grants of ``public`` (which hand the platform role every relation
    there, ``pg_stat_statements`` included). None when done, else why not.
    """
    return close_statistics_side_channels(cursor, [role_name(kind) for kind in RUNTIME_ROLES])


def apply_company_schema_grants(cursor: Any, schema_name: str) -> None:
    """The runtime role's rights in one company schema (the default privileges, made sure)."""
    app = sql.Identifier(role_name("app"))
    cursor.execute(
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema_name), app)
    )
    # What "ON ALL TABLES/SEQUENCES IN SCHEMA" would grant, named one by one:
    # PostgreSQL finds "all in schema" by reading the whole of pg_class (27 ms
    # at a thousand company schemas, on every provisioning and migration).
    tables, sequences = schema_relations(cursor, schema_name)
    for privileges, kind, names in (
        ("SELECT, INSERT, UPDATE, DELETE", "TABLE", tables),
        ("USAGE, SELECT", "SEQUENCE", sequences),
    ):
        if names:
            cursor.execute(
                sql.SQL("GRANT {} ON {} {} TO {}").format(
                    sql.SQL(privileges),
                    sql.SQL(kind),
                    sql.SQL(", ").join(sql.Identifier(schema_name, name) for name in names),
                    app,
                )
            )
    _narrow_to_declared(cursor, schema_name, [role_name("app")])
    _revoke_owner_only(cursor, schema_name)


def _revoke_owner_only(cursor: Any, schema_name: str) -> None:
    roles = sql.SQL(", ").join(sql.Identifier(role_name(kind)) for kind in RUNTIME_ROLES)
    for table in OWNER_ONLY_TABLES:
        cursor.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s",
            [schema_name, table],
        )
        if cursor.fetchone():
            cursor.execute(
                sql.SQL("REVOKE ALL ON {} FROM {}").format(
                    sql.Identifier(schema_name, table), roles
                )
            )
