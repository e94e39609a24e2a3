"""Every company has its schema; every other schema is reserved (the pool) or an orphan."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_noop as N_
from psycopg import sql

from deployments.verification.base import FAIL, PASS, Check, Result, text
from qiro.db.catalog import NOT_EXTENSION_SCHEMA_SQL
from qiro.stored_text import said
from tenants.schema_pool import POOL_SCHEMA_LIKE

# Schemas an extension owns (Citus's ``citus``, ``citus_internal``…) are
# neither companies nor orphans.
QUERY = sql.SQL(
    """
WITH companies AS (SELECT schema_name FROM public.tenants_company),
present AS (
    SELECT nspname FROM pg_namespace
    WHERE nspname NOT LIKE 'pg\\_%%' AND nspname NOT IN ('information_schema', 'public')
      AND NOT nspname LIKE ANY(%s::text[])
      AND {not_extension}
)
SELECT 'missing', schema_name FROM companies
 WHERE schema_name NOT IN (SELECT nspname FROM present)
UNION ALL
SELECT 'orphan', nspname FROM present
 WHERE nspname NOT IN (SELECT schema_name FROM companies)
ORDER BY 1, 2
"""
).format(not_extension=sql.SQL(NOT_EXTENSION_SCHEMA_SQL))


def reserved_schema_patterns() -> list[str]:
    """LIKE patterns of schemas that are neither companies nor orphans (e.g. the warm pool)."""
    return [*getattr(settings, "QIRO_RESERVED_SCHEMA_PATTERNS", []), POOL_SCHEMA_LIKE]


class SchemasCheck(Check):
    """Runs first: the company schemas it finds are the scope of every later check."""

    name = "schemas"
    title = N_("One schema per company")

    def declared(self, verifier: Any) -> list[str]:
        rows = verifier.rows("SELECT schema_name FROM public.tenants_company ORDER BY 1")
        return [r[0] for r in rows]

    def query(self, verifier: Any, declared: list[str]) -> list[Any]:
        return verifier.rows(QUERY, [reserved_schema_patterns()])

    def findings(self, verifier: Any, declared: list[str], rows: list[Any]) -> list[Result]:
        missing = [s for kind, s in rows if kind == "missing"]
        orphans = [s for kind, s in rows if kind == "orphan"]
        results = [
            Result(self.name, s, FAIL, text(said(N_("the company's schema"))),
                   text(said(N_("no schema"))))
            for s in missing
        ] + [
            Result(self.name, s, FAIL, text(said(N_("a company owning this schema"))),
                   text(said(N_("no company"))))
            for s in orphans
        ]  # fmt: skip
        verifier.companies = [s for s in declared if s not in missing]
        count = len(verifier.companies)
        return results or [
            Result(
                self.name,
                "",
                PASS,
                text(said(N_("one schema per company, no orphans"))),
                text(said(N_("%(count)d companies, %(count)d schemas"), count=count)),
            )
        ]
