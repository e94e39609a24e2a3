"""What the project needs to know about a Citus server, asked in one place.

On Citus (schema-based sharding) each company schema is a distributed schema
whose tables live together on one worker. A few things then differ, and each
caller asks here rather than guessing: whether the server is Citus at all,
and where a schema lives.
"""

from __future__ import annotations

import re
from typing import Any

EXTENSION = "citus"
# What Citus appends to a table's or constraint's name on its shards (a shard id).
_SHARD_SUFFIX = re.compile(r"_[0-9]{6,}$")
# Schemas the extension owns: never a company's, never dropped by a restore.
EXTENSION_SCHEMAS = ("citus", "citus_internal", "columnar", "columnar_internal")


def is_citus(cursor: Any) -> bool:
    """Whether the database behind ``cursor`` has the Citus extension."""
    cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = %s)", [EXTENSION])
    row = cursor.fetchone()
    return bool(row and row[0])


def connection_is_citus(alias: str) -> bool:
    """``is_citus`` for a Django alias, asked once per connection."""
    from django.db import connections

    connection = connections[alias]
    connection.ensure_connection()
    cached = getattr(connection, "_qiro_is_citus", None)
    key = id(connection.connection)
    if cached is None or cached[0] != key:
        with connection.cursor() as cursor:
            cached = (key, is_citus(cursor))
        connection._qiro_is_citus = cached  # type: ignore[attr-defined]
    return bool(cached[1])


# --- public tables: which are copied to every node, which stay on the coordinator ----

# Reference tables: a copy on every node, because company tables (in their
# distributed schemas, on a worker) hold foreign keys to them.
# django_admin_log of each company schema -> django_content_type.
REFERENCE_TABLES = ("django_content_type",)
# Every other public table stays on the coordinator. Those joined to a
# reference table by foreign keys become Citus local tables (Citus requires
# it; cascade_via_foreign_keys takes the whole connected group); the others
# stay plain PostgreSQL tables. None of them is ever distributed.
LOCAL = "local"
REFERENCE = "reference"


def public_placement(cursor: Any) -> dict[str, str]:
    """{public table: 'reference' | 'local' | 'distributed' | ...} as Citus records it."""
    cursor.execute(
        "SELECT c.relname, t.citus_table_type FROM citus_tables t "
        "JOIN pg_class c ON c.oid = t.table_name JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public'"
    )
    return {name: kind for name, kind in cursor.fetchall()}


def apply_public_placement(cursor: Any) -> list[str]:
    """Make the declared reference tables reference tables; keep the rest local.

    Idempotent; returns the tables it converted. Runs on the owner's cursor
    after the public schema's migrations and before its grants: a conversion
    re-creates a table, whose rights then come from the owner's default
    privileges, so ``apply_public_grants`` must follow to narrow them back.
    """
    if not is_citus(cursor):
        return []
    placed = public_placement(cursor)
    converted = []
    for table in REFERENCE_TABLES:
        if placed.get(table) == REFERENCE:
            continue
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"public.{table}"])
        if not cursor.fetchone()[0]:
            continue
        if table in placed:  # a Citus local table: back to a plain one first
            cursor.execute(
                "SELECT undistribute_table(%s::regclass, cascade_via_foreign_keys => true)",
                [f"public.{table}"],
            )
        cursor.execute("SELECT create_reference_table(%s::regclass)", [f"public.{table}"])
        cursor.execute(
            "SELECT truncate_local_data_after_distributing_table(%s::regclass)", [f"public.{table}"]
        )
        converted.append(table)
    # Tables Citus added to its metadata on its own (joined to a reference table
    # by a foreign key) are marked as ours, so that Citus keeps them as they are;
    # one call takes the whole group joined by foreign keys.
    while True:
        cursor.execute(
            "SELECT p.logicalrelid::regclass::text FROM pg_dist_partition p "
            "JOIN pg_class c ON c.oid = p.logicalrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND p.autoconverted LIMIT 1"
        )
        row = cursor.fetchone()
        if row is None:
            break
        cursor.execute(
            "SELECT citus_add_local_table_to_metadata(%s::regclass, "
            "cascade_via_foreign_keys => true)",
            [row[0]],
        )
        converted.append(row[0])
    return converted


def placement_problems(cursor: Any) -> list[str]:
    """What differs from the declaration: a reference table that is not one, a table distributed."""
    placed = public_placement(cursor)
    problems = [
        f"public.{t}: {placed.get(t, 'not in Citus')} (declared reference)"
        for t in REFERENCE_TABLES
        if placed.get(t) != REFERENCE
    ]
    problems += [
        f"public.{t}: {kind} (declared local)"
        for t, kind in sorted(placed.items())
        if t not in REFERENCE_TABLES and kind != LOCAL
    ]
    return problems


# --- where company schemas live ---------------------------------------------------------

# One row per distributed schema and node: its shards there and their size
# (the size is NULL for a role that may not read the schema, e.g. the platform role).
SCHEMA_PLACEMENTS_SQL = """
SELECT s.schema_name::text, sh.nodename || ':' || sh.nodeport, count(*),
       coalesce(sum(sh.shard_size), 0)::bigint
FROM citus_schemas s
JOIN citus_shards sh ON sh.colocation_id = s.colocation_id
WHERE %s::text[] IS NULL OR s.schema_name::text = ANY(%s::text[])
GROUP BY 1, 2
"""


def schema_placements(
    cursor: Any, schemas: list[str] | None = None
) -> dict[str, tuple[str, int, int]]:
    """{schema: (node 'host:port', shard count, bytes)} of the distributed schemas listed (all)."""
    cursor.execute(SCHEMA_PLACEMENTS_SQL, [schemas, schemas])
    return {schema: (node, int(shards), int(size)) for schema, node, shards, size in cursor}


def worker_nodes(cursor: Any) -> list[str]:
    """The active primary nodes that may hold shards, as 'host:port'."""
    cursor.execute(
        "SELECT nodename || ':' || nodeport FROM pg_dist_node "
        "WHERE isactive AND noderole = 'primary' AND shouldhaveshards ORDER BY nodeid"
    )
    return [row[0] for row in cursor.fetchall()]


def node_totals(cursor: Any) -> list[tuple[str, int, int, int]]:
    """(node, company schemas, shards, bytes) for every node holding distributed schemas."""
    cursor.execute(
        """
        SELECT sh.nodename || ':' || sh.nodeport, count(DISTINCT s.schema_name), count(*),
               coalesce(sum(sh.shard_size), 0)::bigint
        FROM citus_schemas s JOIN citus_shards sh ON sh.colocation_id = s.colocation_id
        GROUP BY 1 ORDER BY 1
        """
    )
    return [(node, int(c), int(n), int(b)) for node, c, n, b in cursor.fetchall()]


def move_schema(cursor: Any, schema: str, node: str) -> None:
    """Move a distributed schema, all its tables, to ``node`` ('host:port'), as the owner.

    ``block_writes``: writes to the company wait while its shards are copied
    (reads go on); logical replication would need ``wal_level = logical``.
    """
    host, _, port = node.rpartition(":")
    cursor.execute(
        "SELECT citus_schema_move(%s::regnamespace, %s, %s, shard_transfer_mode => 'block_writes')",
        [schema, host, int(port)],
    )


def apply_grants_to_shards(cursor: Any, roles: list[str]) -> int:
    """Name each Citus public table in a GRANT, so that its shard gets the same rights.

    ``GRANT … ON ALL TABLES IN SCHEMA`` reaches the coordinator's shell tables
    but not the shard behind a Citus local or reference table, where the
    statement actually runs; a GRANT naming the table is propagated to its
    shards. Re-issues, table by table, the table-level rights the shell holds
    (``apply_public_grants`` decided them). Only grants: a table-level REVOKE
    would also take the column-level rights the narrowing gave. Returns the
    tables done; nothing off Citus.
    """
    from psycopg import sql

    if not is_citus(cursor):
        return 0
    cursor.execute(
        """
        SELECT c.relname, r.rolname,
               array_remove(ARRAY[
                   CASE WHEN has_table_privilege(r.oid, c.oid, 'SELECT') THEN 'SELECT' END,
                   CASE WHEN has_table_privilege(r.oid, c.oid, 'INSERT') THEN 'INSERT' END,
                   CASE WHEN has_table_privilege(r.oid, c.oid, 'UPDATE') THEN 'UPDATE' END,
                   CASE WHEN has_table_privilege(r.oid, c.oid, 'DELETE') THEN 'DELETE' END
               ], NULL)
        FROM citus_tables t
        JOIN pg_class c ON c.oid = t.table_name
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        CROSS JOIN pg_roles r
        WHERE r.rolname = ANY(%s)
        ORDER BY 1, 2
        """,
        [roles],
    )
    rows = cursor.fetchall()
    for table, role, privileges in rows:
        target = sql.Identifier("public", table)
        if privileges:
            cursor.execute(
                sql.SQL("GRANT {} ON {} TO {}").format(
                    sql.SQL(", ").join(sql.SQL(p) for p in privileges),  # from the list above
                    target,
                    sql.Identifier(role),
                )
            )
    return len({row[0] for row in rows})


def table_or_constraint_name(name: str | None) -> str | None:
    """The name as declared, from the name PostgreSQL reports (on Citus, the shard's).

    On a shard Citus appends ``_<shard id>`` to table and constraint names
    (``registration_application_brn_once_102011``); errors and triggers
    report those. A declared name plus that suffix gives the declared name;
    any other name comes back as it is.
    """
    if name is None:
        return None
    return _SHARD_SUFFIX.sub("", name)
