"""Moving a company to another Citus node, as a background operation.

A company's schema is one distributed schema, all its tables on one worker;
``citus_schema_move`` copies them to another and switches the placement. The
operation counts every table's rows before and after (as the owner, who sees
all rows) and fails if a single row differs, so a move never loses data
unnoticed. Writes to the company wait during the copy (``block_writes``);
reads go on.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from psycopg import sql

from deployments.models import Operation
from deployments.services import log, step
from qiro.db import pg
from qiro.db.citus import is_citus, move_schema, schema_placements, worker_nodes


class MoveError(RuntimeError):
    """A move that cannot start, or that did not keep every row."""


def count_rows(cursor: Any, schema: str) -> dict[str, int]:
    """{table: rows} of every table of the schema, as the owner."""
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1",
        [schema],
    )
    tables = [row[0] for row in cursor.fetchall()]
    counts: dict[str, int] = {}
    for table in tables:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table)))
        counts[table] = int(cursor.fetchone()[0])
    return counts


def move_company(
    *, schema_name: str, node: str, operation: Operation | None = None
) -> dict[str, Any]:
    """Move one company's schema to ``node`` ('host:port'); its rows counted before and after."""
    with pg.connect() as conn, conn.cursor() as cursor:
        if not is_citus(cursor):
            raise MoveError(_("This database is not a Citus cluster: companies have no node."))
        if node not in worker_nodes(cursor):
            raise MoveError(_("%(node)s is not a node that holds companies.") % {"node": node})
        placed = schema_placements(cursor, [schema_name]).get(schema_name)
        if placed is None:
            raise MoveError(
                _("The schema %(schema)s is not a distributed schema.") % {"schema": schema_name}
            )
        source = placed[0]
        before = count_rows(cursor, schema_name)
        if operation is not None:
            step(
                operation, gettext_noop("%(schema)s: %(rows)d rows on %(node)s"), total=3,
                schema=schema_name, rows=sum(before.values()), node=source,
            )  # fmt: skip
        if source == node:
            if operation is not None:
                log(
                    operation, gettext_noop("%(schema)s is already on %(node)s"),
                    schema=schema_name, node=node,
                )  # fmt: skip
        else:
            move_schema(cursor, schema_name, node)
        if operation is not None:
            step(
                operation, gettext_noop("%(schema)s: moved from %(source)s to %(node)s"),
                schema=schema_name, source=source, node=node,
            )  # fmt: skip
        after = count_rows(cursor, schema_name)
        now_on = schema_placements(cursor, [schema_name])[schema_name][0]
    if after != before or now_on != node:
        raise MoveError(
            _("The move of %(schema)s did not keep its rows: %(before)s before, %(after)s after.")
            % {"schema": schema_name, "before": before, "after": after}
        )
    if operation is not None:
        step(
            operation, gettext_noop("%(schema)s: %(rows)d rows on %(node)s, none lost"),
            schema=schema_name, rows=sum(after.values()), node=now_on,
        )  # fmt: skip
    return {
        "schema": schema_name,
        "from": source,
        "to": now_on,
        "rows_before": sum(before.values()),
        "rows_after": sum(after.values()),
    }
