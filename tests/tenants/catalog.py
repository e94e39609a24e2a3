"""A schema's catalog, written without the schema's name, to compare two schemas.

Generic: every table, column (order, type, default, identity), sequence,
index, constraint, policy with its expressions, ENABLE/FORCE flag, trigger,
function, type and ENUM, owner, privilege (tables, sequences, functions,
types and the schema itself), comment, and the schema's migration records,
whatever the apps add later. Optionally the state of its sequences, for two
schemas that should both be empty.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.db import connections
from psycopg import sql

CATALOG_QUERIES = {
    "tables": """
        SELECT c.relname, c.relkind::text, c.relrowsecurity, c.relforcerowsecurity,
               c.relpersistence::text, c.relreplident::text, c.reloptions::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    """,
    "columns": """
        SELECT c.relname, a.attname,
               row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
               format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text,
               co.collname
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation
        WHERE n.nspname = %(schema)s AND a.attnum > 0 AND NOT a.attisdropped
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    """,
    "sequences": """
        SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
               s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
               (SELECT t.relname || '.' || a.attname || ' ' || d.deptype::text
                FROM pg_depend d
                JOIN pg_class t ON t.oid = d.refobjid
                JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
        FROM pg_sequence s
        JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s
    """,
    "indexes": """
        SELECT i.indexname, i.tablename, i.indexdef
        FROM pg_indexes i WHERE i.schemaname = %(schema)s
    """,
    "constraints": """
        SELECT c.relname, k.conname, k.contype::text,
               -- each company's own id in its company-only constraint
               CASE WHEN k.conname = 'qiro_company_only'
                    THEN regexp_replace(pg_get_constraintdef(k.oid), '''[0-9]+''', 'ID')
                    ELSE pg_get_constraintdef(k.oid) END,
               k.condeferrable, k.condeferred, k.convalidated
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s
    """,
    "policies": """
        SELECT p.tablename, p.policyname, p.permissive, p.roles::text, p.cmd, p.qual, p.with_check
        FROM pg_policies p WHERE p.schemaname = %(schema)s
    """,
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled::text,
               f.pronamespace::regnamespace::text || '.' || f.proname
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_proc f ON f.oid = t.tgfoid
        WHERE n.nspname = %(schema)s AND NOT t.tgisinternal
    """,
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %(schema)s
    """,
    "types": """
        SELECT t.typname, t.typtype::text, format_type(t.typbasetype, t.typtypmod),
               t.typnotnull, t.typdefault
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = %(schema)s
    """,
    "enum_types": """
        SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)::text
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE n.nspname = %(schema)s GROUP BY t.typname
    """,
    "owners": """
        SELECT 'schema', '', n.nspowner::regrole::text FROM pg_namespace n
        WHERE n.nspname = %(schema)s
        UNION ALL
        SELECT 'relation', c.relname, c.relowner::regrole::text FROM pg_class c
        WHERE c.relnamespace = %(schema)s::regnamespace
        UNION ALL
        SELECT 'function', p.proname, p.proowner::regrole::text FROM pg_proc p
        WHERE p.pronamespace = %(schema)s::regnamespace
        UNION ALL
        SELECT 'type', t.typname, t.typowner::regrole::text FROM pg_type t
        WHERE t.typnamespace = %(schema)s::regnamespace
    """,
    # Effective privileges (a NULL ACL is the object type's default).
    "privileges": """
        WITH objects(kind, name, acl, owner, default_kind) AS (
            SELECT 'schema', '', n.nspacl, n.nspowner, 'n'::"char" FROM pg_namespace n
            WHERE n.nspname = %(schema)s
            UNION ALL
            SELECT 'relation', c.relname, c.relacl, c.relowner,
                   CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char"
            FROM pg_class c
            WHERE c.relnamespace = %(schema)s::regnamespace
              AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
            UNION ALL
            SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                   p.proacl, p.proowner, 'f'::"char"
            FROM pg_proc p WHERE p.pronamespace = %(schema)s::regnamespace
            UNION ALL
            SELECT 'type', t.typname, t.typacl, t.typowner, 'T'::"char" FROM pg_type t
            WHERE t.typnamespace = %(schema)s::regnamespace
        )
        SELECT o.kind, o.name,
               CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
               a.privilege_type, a.is_grantable
        FROM objects o, aclexplode(coalesce(o.acl, acldefault(o.default_kind, o.owner))) a
    """,
    "grants": """
        SELECT c.relname, g.grantee, g.privilege_type
        FROM information_schema.role_table_grants g
        JOIN pg_class c ON c.relname = g.table_name
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = g.table_schema
        WHERE g.table_schema = %(schema)s
    """,
    "comments": """
        SELECT 'relation', c.relname, d.objsubid, d.description
        FROM pg_description d JOIN pg_class c ON c.oid = d.objoid
        WHERE d.classoid = 'pg_class'::regclass AND c.relnamespace = %(schema)s::regnamespace
        UNION ALL
        SELECT 'function', p.proname, d.objsubid, d.description
        FROM pg_description d JOIN pg_proc p ON p.oid = d.objoid
        WHERE d.classoid = 'pg_proc'::regclass AND p.pronamespace = %(schema)s::regnamespace
        UNION ALL
        SELECT 'type', t.typname, d.objsubid, d.description
        FROM pg_description d JOIN pg_type t ON t.oid = d.objoid
        WHERE d.classoid = 'pg_type'::regclass AND t.typnamespace = %(schema)s::regnamespace
    """,
}
# Compared only when asked: a schema that has been used has moved its sequences.
STATE_QUERIES = {
    "sequence_state": """
        SELECT s.sequencename, s.last_value FROM pg_sequences s WHERE s.schemaname = %(schema)s
    """,
}


def schema_catalog(
    schema: str, *, state: bool = False, cursor: Any = None
) -> dict[str, set[tuple[Any, ...]]]:
    """Every catalog entry of ``schema``, with its name replaced by ``<schema>``.

    ``django_migrations`` holds the schema's migration records (id, app, name).
    ``state`` adds the sequences' last values. ``cursor`` reads another
    database (a psycopg cursor); by default the owner's connection is read.
    """

    def neutral(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(f'"{schema}".', "<schema>.").replace(f"{schema}.", "<schema>.")
        return value

    queries = {**CATALOG_QUERIES, **(STATE_QUERIES if state else {})}
    catalog: dict[str, set[tuple[Any, ...]]] = {}
    with contextlib.nullcontext(cursor) if cursor else connections["owner"].cursor() as cursor:
        for kind, query in queries.items():
            cursor.execute(query, {"schema": schema})
            catalog[kind] = {tuple(neutral(v) for v in row) for row in cursor.fetchall()}
        cursor.execute(
            sql.SQL("SELECT id, app, name FROM {}").format(
                sql.Identifier(schema, "django_migrations")
            )
        )
        catalog["django_migrations"] = set(cursor.fetchall())
    return catalog


def differences(
    left: dict[str, set[tuple[Any, ...]]], right: dict[str, set[tuple[Any, ...]]]
) -> dict[str, tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]]:
    """Per kind that differs: (entries only on the left, entries only on the right)."""
    return {
        kind: (left[kind] - right.get(kind, set()), right.get(kind, set()) - left[kind])
        for kind in left
        if left[kind] != right.get(kind, set())
    }
