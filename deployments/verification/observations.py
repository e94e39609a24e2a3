"""Observations: recorded as information, never as failures.

Small reads, one statement each: the slowest statements (``pg_stat_statements``
when installed), the largest schemas and tables, indexes never used, dead tuples.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import psycopg
from django.utils.translation import gettext_noop as N_

from deployments.verification.base import INFO, SKIP, Check, Result, text
from qiro.db.catalog import largest_schemas
from qiro.stored_text import said

SLOW_STATEMENTS_SQL = """
SELECT left(query, 200), calls, round(mean_exec_time::numeric, 2),
       round(total_exec_time::numeric, 1) FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY mean_exec_time DESC LIMIT 10
"""
TABLE_SIZES_SQL = """
SELECT n.nspname, c.relname, pg_total_relation_size(c.oid), pg_indexes_size(c.oid),
       c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND n.nspname = ANY(%s::text[])
ORDER BY 3 DESC LIMIT 15
"""
UNUSED_INDEXES_SQL = """
SELECT s.schemaname, s.relname, s.indexrelname, pg_relation_size(s.indexrelid)
FROM pg_stat_user_indexes s JOIN pg_index x ON x.indexrelid = s.indexrelid
WHERE s.idx_scan = 0 AND NOT x.indisunique AND NOT x.indisprimary
  AND s.schemaname = ANY(%s::text[])
ORDER BY 4 DESC LIMIT 15
"""
DEAD_TUPLES_SQL = """
SELECT schemaname, relname, n_dead_tup, n_live_tup, last_autovacuum
FROM pg_stat_user_tables
WHERE n_dead_tup > 0 AND schemaname = ANY(%s::text[])
ORDER BY n_dead_tup DESC LIMIT 15
"""


class Observation(Check):
    """One statement over every schema in scope; its rows are the finding."""

    labels: ClassVar[list[str]]
    statement: ClassVar[str]

    def query(self, verifier: Any, declared: Any) -> list[Any]:
        return verifier.rows(self.statement, [verifier.all_schemas])

    def findings(self, verifier: Any, declared: Any, rows: list[Any]) -> list[Result]:
        found = json.dumps(
            [dict(zip(self.labels, r, strict=True)) for r in rows], ensure_ascii=False, default=str
        )
        return [Result(self.name, "", INFO, "", found)]


class SlowStatements(Observation):
    name = "slow_statements"
    title = N_("Slowest statements")
    labels = ["query", "calls", "mean_ms", "total_ms"]

    def run(self, verifier: Any) -> list[Result]:
        if not verifier.rows("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"):
            return [
                Result(
                    self.name,
                    "",
                    SKIP,
                    "",
                    text(
                        said(
                            N_(
                                "pg_stat_statements is not installed in this database (CREATE "
                                "EXTENSION pg_stat_statements; it must be in "
                                "shared_preload_libraries)"
                            )
                        )
                    ),
                )
            ]
        try:
            with verifier.conn.transaction():
                rows = verifier.rows(SLOW_STATEMENTS_SQL)
        except psycopg.Error as error:
            return [Result(self.name, "", SKIP, "", str(error).strip())]
        return self.findings(verifier, None, rows)


class LargestSchemas(Observation):
    name = "largest_schemas"
    title = N_("Largest schemas")
    labels = ["schema", "bytes"]

    def query(self, verifier: Any, declared: Any) -> list[Any]:
        with verifier.conn.cursor() as cursor:
            return largest_schemas(cursor, verifier.all_schemas)


class TableSizes(Observation):
    name = "table_sizes"
    title = N_("Table sizes")
    labels = ["schema", "table", "total_bytes", "index_bytes", "rows_estimate"]
    statement = TABLE_SIZES_SQL


class UnusedIndexes(Observation):
    name = "unused_indexes"
    title = N_("Unused indexes")
    labels = ["schema", "table", "index", "bytes"]
    statement = UNUSED_INDEXES_SQL


class DeadTuples(Observation):
    name = "dead_tuples"
    title = N_("Dead rows")
    labels = ["schema", "table", "dead", "live", "last_autovacuum"]
    statement = DEAD_TUPLES_SQL
