"""Verification: every company-keyed table of a company's schema accepts only that company.

The expectation is the third wall (``qiro.db.secure``): in each company's
schema, each table of a model declaring ``row_security`` has the validated
CHECK ``qiro_company_only`` on its company column, for that company's id.
One catalog query for every company schema together.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from qiro.db.secure import COMPANY_ONLY_CONSTRAINT, company_keyed_tables

if TYPE_CHECKING:
    from deployments.verification import Result, Verifier

CHECK = "company_constraint"

QUERY = """
WITH companies AS (
    SELECT id, schema_name FROM public.tenants_company
    WHERE schema_name = ANY(%s::text[]) AND schema_name <> 'public'
),
declared(relname, col) AS (SELECT * FROM unnest(%s::text[], %s::text[]))
SELECT co.schema_name, d.relname,
       CASE WHEN k.oid IS NULL THEN 'missing'
            WHEN NOT k.convalidated THEN 'not validated'
            ELSE 'is ' || pg_get_constraintdef(k.oid) END
FROM companies co
JOIN pg_namespace n ON n.nspname = co.schema_name
CROSS JOIN declared d
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = d.relname AND c.relkind IN ('r', 'p')
LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.conname = %s AND k.contype = 'c'
WHERE k.oid IS NULL OR NOT k.convalidated
   OR pg_get_constraintdef(k.oid) <> format('CHECK ((%%I = %%L::bigint))', d.col, co.id::text)
ORDER BY 1, 2
"""


def check_company_constraint(verifier: Verifier) -> list[Result]:
    """One result per company schema: pass, or fail naming each table that accepts other ids."""
    from deployments.verification import SKIP, Result, _per_schema

    tables = company_keyed_tables()
    if not tables:
        return [Result(CHECK, "", SKIP, "", "no company-keyed tables")]
    schemas = [s for s in verifier.companies if s != "public"]
    rows = verifier._rows(
        QUERY, [schemas, list(tables), list(tables.values()), COMPANY_ONLY_CONSTRAINT]
    )
    problems: dict[str, list[str]] = defaultdict(list)
    for schema, table, what in rows:
        problems[schema].append(f"{table}: {COMPANY_ONLY_CONSTRAINT} {what}")
    expected = dict.fromkeys(
        schemas, f"{COMPANY_ONLY_CONSTRAINT} on {len(tables)} company-keyed tables, for its id"
    )
    return _per_schema(CHECK, schemas, problems, expected)
