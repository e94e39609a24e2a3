"""Partitioned tables have a partition for this month and the months ahead.

A month counts as covered when one partition's range holds both its first and
its last day (12 hours in), which accepts month boundaries drawn in UTC or in
the local time zone.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils.translation import gettext_noop as N_

import deployments.verification.base as base
from deployments.verification.base import Check, Result, about
from qiro.expectations import MonthlyPartitions
from qiro.stored_text import Message, said

QUERY = """,
declared(scope, relname, ahead) AS (SELECT * FROM unnest(%s::text[], %s::text[], %s::int[])),
months AS (
    SELECT s.nspname, d.relname, m::date AS month
    FROM schemas s JOIN declared d ON d.scope = s.scope
    CROSS JOIN LATERAL generate_series(
        date_trunc('month', now() AT TIME ZONE 'UTC'),
        date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => d.ahead),
        interval '1 month') m
),
bounds AS (
    SELECT n.nspname, parent.relname,
           (regexp_match(pg_get_expr(child.relpartbound, child.oid),
                         'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)')) AS b
    FROM pg_inherits h
    JOIN pg_class parent ON parent.oid = h.inhparent
    JOIN pg_class child ON child.oid = h.inhrelid
    JOIN pg_namespace n ON n.oid = parent.relnamespace
    WHERE parent.relkind = 'p'
)
SELECT m.nspname, m.relname, m.month FROM months m
WHERE NOT EXISTS (
    SELECT 1 FROM bounds b
    WHERE b.nspname = m.nspname AND b.relname = m.relname AND b.b IS NOT NULL
      AND b.b[1]::timestamptz <= (m.month::timestamp AT TIME ZONE 'UTC') + interval '12 hours'
      AND b.b[2]::timestamptz >= ((m.month + interval '1 month')::timestamp AT TIME ZONE 'UTC')
                                 - interval '12 hours')
ORDER BY 1, 2, 3
"""


class PartitionsCheck(Check):
    name = "partitions"
    title = N_("Monthly partitions ahead")
    skip = N_("no partitioned tables declared")

    def declared(self, verifier: Any) -> list[tuple[str, str, int]]:
        return [(scope, table, e.ahead) for scope, table, e in base.declared_of(MonthlyPartitions)]

    def query(self, verifier: Any, declared: list[tuple[str, str, int]]) -> list[Any]:
        return base.declared_rows(verifier, QUERY, declared, 3)

    def findings(self, verifier: Any, declared: Any, rows: list[Any]) -> list[Result]:
        problems: dict[str, list[Message]] = defaultdict(list)
        for schema, table, month in rows:
            problems[schema].append(
                about(table, said(N_("no partition for %(month)s"), month=f"{month:%Y-%m}"))
            )
        schemas = verifier.schemas_for(sorted({d[0] for d in declared}))
        tables = [
            said(N_("%(table)s (+%(months)d months)"), table=table, months=ahead)
            for table, ahead in sorted({(d[1], d[2]) for d in declared})
        ]
        expected = said(N_("partitions for %(tables)s"), tables=tables)
        return self.per_schema(schemas, problems, dict.fromkeys(schemas, expected))
