"""Weekly: index health per schema — bloat estimate, unused indexes, and REINDEX of bloated ones.

The estimate compares an index's pages with the pages its entries need:
``reltuples`` entries of (8-byte tuple header + key width, aligned to 8) plus a
4-byte line pointer, on 8,152 usable bytes per page filled to the index's
``fillfactor`` (90 by default for B-trees). Key widths come from the planner's
statistics (``pg_statistic.stawidth``), or the type's length, or 32 bytes for
what neither knows. B-tree deduplication makes real indexes smaller than the
estimate, so the bloat is underestimated rather than over: a rebuild is never
asked for on a guess that is too eager.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from psycopg import sql

from qiro.db import pg
from qiro.stored_text import said, stored

logger = logging.getLogger(__name__)

# Every B-tree of public and of every company schema, in one statement.
INDEX_HEALTH_SQL = """
WITH idx AS (
    SELECT n.nspname AS schema_name, ic.relname AS index_name, i.indexrelid, i.indrelid,
           i.indkey::int2[] AS keys, ic.relpages, ic.reltuples,
           pg_relation_size(ic.oid) AS bytes, i.indisunique OR i.indisprimary AS enforces,
           coalesce(s.idx_scan, 0) AS scans,
           coalesce((SELECT o.option_value::float FROM pg_options_to_table(ic.reloptions) o
                     WHERE o.option_name = 'fillfactor'), 90) AS fillfactor
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = ic.relnamespace
    JOIN pg_am am ON am.oid = ic.relam
    LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
    WHERE am.amname = 'btree' AND ic.relkind = 'i' AND i.indisvalid
      AND (n.nspname = 'public' OR n.nspname IN (SELECT schema_name FROM public.tenants_company))
), widths AS (
    SELECT idx.indexrelid,
           sum(coalesce(st.stawidth, CASE WHEN a.attlen > 0 THEN a.attlen ELSE 32 END)) AS width
    FROM idx
    CROSS JOIN LATERAL unnest(idx.keys) AS k(attnum)
    LEFT JOIN pg_attribute a ON a.attrelid = idx.indrelid AND a.attnum = k.attnum
    LEFT JOIN pg_statistic st
           ON st.starelid = idx.indrelid AND st.staattnum = k.attnum AND NOT st.stainherit
    GROUP BY idx.indexrelid
)
SELECT idx.schema_name, idx.index_name, idx.bytes, idx.scans, idx.enforces,
       CASE WHEN idx.reltuples < 0 OR idx.relpages = 0 THEN 0
            ELSE greatest(0, idx.relpages - 1 - ceil(
                idx.reltuples * (((8 + w.width + 7) / 8) * 8 + 4)
                / (8152 * idx.fillfactor / 100)))
       END::bigint * current_setting('block_size')::bigint AS bloat_bytes
FROM idx JOIN widths w USING (indexrelid)
ORDER BY bloat_bytes DESC, idx.schema_name, idx.index_name
"""


@dataclass(frozen=True)
class IndexHealth:
    schema_name: str
    index_name: str
    bytes: int
    scans: int
    enforces: bool  # unique or primary key: needed even when never scanned
    bloat_bytes: int

    @property
    def bloat_ratio(self) -> float:
        return self.bloat_bytes / self.bytes if self.bytes else 0.0

    @property
    def qualified(self) -> str:
        return f"{self.schema_name}.{self.index_name}"


def index_health(conn: Any) -> list[IndexHealth]:
    """Every B-tree index with its size, scans and estimated bloat (most bloated first)."""
    return [
        IndexHealth(str(s), str(i), int(b), int(n), bool(e), int(x))
        for s, i, b, n, e, x in conn.execute(INDEX_HEALTH_SQL).fetchall()
    ]


def past_threshold(found: list[IndexHealth]) -> list[IndexHealth]:
    """Those big enough and bloated enough to rebuild (QIRO_REINDEX_MIN_BYTES / _BLOAT_RATIO)."""
    return [
        index
        for index in found
        if index.bytes >= settings.QIRO_REINDEX_MIN_BYTES
        and index.bloat_ratio >= settings.QIRO_REINDEX_BLOAT_RATIO
    ]


def _drop_leftover(conn: Any, index: IndexHealth) -> None:
    """A failed concurrent rebuild leaves an invalid ``<name>_ccnew`` index: remove it."""
    rows = conn.execute(
        "SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = ic.relnamespace "
        "WHERE n.nspname = %s AND NOT i.indisvalid AND ic.relname LIKE %s",
        [index.schema_name, index.index_name[:56] + "\\_ccnew%"],
    ).fetchall()
    for (name,) in rows:
        conn.execute(
            sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                sql.Identifier(index.schema_name, name)
            )
        )


def reindex_bloated_indexes(*, now: datetime) -> str:
    """Rebuild, one at a time and concurrently, the indexes past the bloat threshold.

    As the owner on an autocommit connection (``REINDEX … CONCURRENTLY``
    cannot run in a transaction block); reads and writes of the table go on
    meanwhile. The result names how many indexes were read, how many are
    unused (never scanned since the statistics were reset, and not enforcing
    uniqueness) and what was rebuilt. If a rebuild fails, the others are still
    tried, its leftover is dropped, and the job fails naming it.
    """
    failed: list[str] = []
    rebuilt: list[str] = []
    with pg.connect() as conn:
        found = index_health(conn)
        for index in past_threshold(found):
            try:
                conn.execute(
                    sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(
                        sql.Identifier(index.schema_name, index.index_name)
                    )
                )
                rebuilt.append(index.qualified)
            except psycopg.Error as error:
                logger.warning("REINDEX of %s failed: %s", index.qualified, error)
                failed.append(index.qualified)
                _drop_leftover(conn, index)
    unused = [i for i in found if i.scans == 0 and not i.enforces]
    if failed:
        raise RuntimeError(
            _("Rebuilding these indexes failed: %(names)s.") % {"names": ", ".join(failed)}
        )
    return stored(
        said(
            N_(
                "%(count)d indexes read in %(schemas)d schemas; %(unused)d unused; "
                "%(bloat)s MB estimated bloat; rebuilt: %(rebuilt)s."
            ),
            count=len(found),
            schemas=len({i.schema_name for i in found}),
            unused=len(unused),
            bloat=f"{sum(i.bloat_bytes for i in found) / 1e6:.1f}",
            rebuilt=rebuilt or said(N_("none")),
        )
    )
