"""Catalog reads over many schemas that stay cheap at thousands of them.

pg_class has no index on the schema (``relnamespace``): a query that asks for
"the tables of schema X" reads all of it, about 60,000 rows at a thousand
company schemas. These helpers reach the rows through an index instead: by
the table's name (``pg_class_relname_nsp_index``), or through pg_depend's
index on the referenced schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def schemas_with_table(cursor: Any, schemas: Sequence[str], table: str) -> list[str]:
    """Which of ``schemas`` hold a table (or partitioned table) named ``table``, sorted."""
    cursor.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s AND c.relkind IN ('r', 'p') AND n.nspname = ANY(%s::text[]) "
        "ORDER BY 1",
        [table, list(schemas)],
    )
    return [row[0] for row in cursor.fetchall()]


# The relations of one schema through pg_depend's index on the referenced
# object (every relation depends on its schema), not a scan of pg_class,
# which has no index on the schema. Kinds as GRANT ... ON ALL TABLES takes them.
SCHEMA_RELATIONS_SQL = """
SELECT c.relname, c.relkind = 'S'
FROM pg_depend d
JOIN pg_class c ON c.oid = d.objid
WHERE d.classid = 'pg_class'::regclass
  AND d.refclassid = 'pg_namespace'::regclass
  AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = %s)
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
ORDER BY 1
"""


def schema_relations(cursor: Any, schema_name: str) -> tuple[list[str], list[str]]:
    """(tables, views and the like; sequences) of one schema, by name."""
    cursor.execute(SCHEMA_RELATIONS_SQL, [schema_name])
    rows = cursor.fetchall()
    return [name for name, is_seq in rows if not is_seq], [name for name, is_seq in rows if is_seq]


LARGEST_SCHEMAS_SQL = """
SELECT n.nspname, sum(pg_total_relation_size(c.oid))::bigint AS bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND n.nspname = ANY(%s::text[])
GROUP BY 1 ORDER BY 2 DESC LIMIT %s
"""


def largest_schemas(cursor: Any, schemas: Sequence[str], limit: int = 10) -> list[Any]:
    """(schema, bytes of its tables with indexes and TOAST) of the largest ``schemas``."""
    cursor.execute(LARGEST_SCHEMAS_SQL, [list(schemas), limit])
    return list(cursor.fetchall())


# A schema an extension owns (Citus's ``citus``, ``citus_internal``): part of
# the extension, never a company's, never dropped or restored by us. For a
# WHERE clause over pg_namespace (unaliased).
NOT_EXTENSION_SCHEMA_SQL = (
    "NOT EXISTS (SELECT 1 FROM pg_depend ext WHERE ext.classid = 'pg_namespace'::regclass "
    "AND ext.objid = pg_namespace.oid AND ext.deptype = 'e')"
)
