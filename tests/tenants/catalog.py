"""A schema's catalog, written without the schema's name, to compare two schemas.

Generic: every table, column, index, constraint, policy, FORCE flag, trigger,
function and ENUM type of the schema, whatever the apps add later.
"""

from __future__ import annotations

from typing import Any

from django.db import connections

CATALOG_QUERIES = {
    "tables": """
        SELECT c.relname, c.relkind::text, c.relrowsecurity, c.relforcerowsecurity
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
    """,
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = %(schema)s AND a.attnum > 0 AND NOT a.attisdropped
          AND c.relkind IN ('r', 'p', 'v', 'm')
    """,
    "indexes": """
        SELECT i.indexname, i.tablename, i.indexdef
        FROM pg_indexes i WHERE i.schemaname = %(schema)s
    """,
    "constraints": """
        SELECT c.relname, k.conname, k.contype::text, pg_get_constraintdef(k.oid)
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s
    """,
    "policies": """
        SELECT p.tablename, p.policyname, p.permissive, p.roles::text, p.cmd, p.qual, p.with_check
        FROM pg_policies p WHERE p.schemaname = %(schema)s
    """,
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled::text
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND NOT t.tgisinternal
    """,
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %(schema)s
    """,
    "enum_types": """
        SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)::text
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE n.nspname = %(schema)s GROUP BY t.typname
    """,
    "grants": """
        SELECT c.relname, g.grantee, g.privilege_type
        FROM information_schema.role_table_grants g
        JOIN pg_class c ON c.relname = g.table_name
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = g.table_schema
        WHERE g.table_schema = %(schema)s
    """,
}


def schema_catalog(schema: str) -> dict[str, set[tuple[Any, ...]]]:
    """Every catalog entry of ``schema``, with its name replaced by ``<schema>``."""

    def neutral(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(f'"{schema}".', "<schema>.").replace(f"{schema}.", "<schema>.")
        return value

    catalog: dict[str, set[tuple[Any, ...]]] = {}
    with connections["owner"].cursor() as cursor:
        for kind, query in CATALOG_QUERIES.items():
            cursor.execute(query, {"schema": schema})
            catalog[kind] = {tuple(neutral(v) for v in row) for row in cursor.fetchall()}
    return catalog
