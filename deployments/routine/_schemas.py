"""Company schemas as the routine reads them: over all schemas at once, as the owner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from qiro.db.catalog import schemas_with_table

CHUNK = 500  # company schemas per UNION ALL statement


@dataclass(frozen=True)
class CompanySchema:
    company_id: int
    schema_name: str
    name: str


def companies(cursor: Any) -> list[CompanySchema]:
    """Every company with its own schema (the public tenant row excluded), by schema name."""
    cursor.execute(
        "SELECT id, schema_name, name FROM public.tenants_company "
        "WHERE schema_name <> 'public' ORDER BY schema_name"
    )
    return [CompanySchema(int(i), str(s), str(n)) for i, s, n in cursor.fetchall()]


def union_over(
    cursor: Any,
    found: list[CompanySchema],
    table: str,
    part: Callable[[CompanySchema], sql.Composable],
) -> Iterator[tuple[Any, ...]]:
    """Rows of ``part(company)`` for each company whose schema holds ``table``.

    One ``UNION ALL`` statement per ``CHUNK`` schemas; a schema without the
    table (not migrated yet) is left out rather than failing the statement.
    """
    for start in range(0, len(found), CHUNK):
        chunk = found[start : start + CHUNK]
        present = set(schemas_with_table(cursor, [c.schema_name for c in chunk], table))
        parts = [part(c) for c in chunk if c.schema_name in present]
        if not parts:
            continue
        cursor.execute(sql.SQL(" UNION ALL ").join(sql.SQL("({})").format(p) for p in parts))
        yield from cursor.fetchall()
