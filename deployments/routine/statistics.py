"""Weekly: ANALYZE the tables whose planner statistics are stale."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_noop as N_
from psycopg import sql

from qiro.db import pg
from qiro.stored_text import said, stored

# A table is stale when the rows changed since its last ANALYZE pass
# QIRO_ANALYZE_STALE_MIN_ROWS + QIRO_ANALYZE_STALE_RATIO * its rows (autovacuum's own
# rule, with our thresholds), or when it holds rows and was never analysed.
# One statement for public and every company schema.
STALE_TABLES_SQL = """
SELECT s.schemaname, s.relname, s.n_mod_since_analyze
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
WHERE (s.schemaname = 'public'
       OR s.schemaname IN (SELECT schema_name FROM public.tenants_company))
  AND c.relkind = 'r'
  AND (s.n_mod_since_analyze > %(min_rows)s + %(ratio)s * greatest(c.reltuples, 0)
       OR (coalesce(s.last_analyze, s.last_autoanalyze) IS NULL AND s.n_live_tup > 0))
ORDER BY s.n_mod_since_analyze DESC, 1, 2
"""


def stale_tables(conn: Any) -> list[tuple[str, str, int]]:
    """(schema, table, rows changed since the last ANALYZE) of every stale table."""
    rows = conn.execute(
        STALE_TABLES_SQL,
        {
            "min_rows": settings.QIRO_ANALYZE_STALE_MIN_ROWS,
            "ratio": settings.QIRO_ANALYZE_STALE_RATIO,
        },
    ).fetchall()
    return [(str(s), str(t), int(n)) for s, t, n in rows]


def analyze_stale_tables(*, now: datetime) -> str:
    """``ANALYZE`` each stale table, one statement each, as the owner in autocommit.

    One table at a time: each ANALYZE takes only a light lock
    (SHARE UPDATE EXCLUSIVE, which reads and writes do not wait for) and is
    over before the next begins.
    """
    with pg.connect() as conn:
        found = stale_tables(conn)
        for schema, table, _changed in found:
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table)))
    return stored(
        said(
            N_("%(count)d stale tables analysed (%(rows)d changed rows)."),
            count=len(found),
            rows=sum(changed for _s, _t, changed in found),
        )
    )
