"""Every company-keyed table of a company's schema accepts only that company.

The expectation is the third wall (``qiro.db.secure``): in each company's
schema, each table of a model declaring ``row_security`` has the validated
CHECK ``qiro_company_only`` on its company column, for that company's id.
One catalog query for every company schema together.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils.translation import gettext_noop as N_

from deployments.verification.base import Check, Result, about, word
from qiro.db.secure import COMPANY_ONLY_CONSTRAINT, company_keyed_tables
from qiro.stored_text import Message, said

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


class CompanyConstraintCheck(Check):
    """One result per company schema: pass, or fail naming each table that accepts other ids."""

    name = "company_constraint"
    title = N_("Company-keyed tables accept only their company")
    skip = N_("no company-keyed tables")

    def declared(self, verifier: Any) -> dict[str, str]:
        return company_keyed_tables()

    def query(self, verifier: Any, declared: dict[str, str]) -> list[Any]:
        schemas = [s for s in verifier.companies if s != "public"]
        return verifier.rows(
            QUERY, [schemas, list(declared), list(declared.values()), COMPANY_ONLY_CONSTRAINT]
        )

    def findings(self, verifier: Any, declared: dict[str, str], rows: list[Any]) -> list[Result]:
        problems: dict[str, list[Message]] = defaultdict(list)
        for schema, table, what in rows:
            wrong = (
                said(N_("%(constraint)s %(definition)s"), constraint=COMPANY_ONLY_CONSTRAINT,
                     definition=what)
                if what.startswith("is ")
                else said(N_("%(constraint)s %(what)s"), constraint=COMPANY_ONLY_CONSTRAINT,
                          what=word(what))
            )  # fmt: skip
            problems[schema].append(about(table, wrong))
        schemas = [s for s in verifier.companies if s != "public"]
        expected = said(
            N_("%(constraint)s on %(count)d company-keyed tables, for its id"),
            constraint=COMPANY_ONLY_CONSTRAINT, count=len(declared),
        )  # fmt: skip
        return self.per_schema(schemas, problems, dict.fromkeys(schemas, expected))
