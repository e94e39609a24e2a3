"""Every declared row policy says exactly what its declaration says, in every schema.

The declarations are ``qiro.db.objects.declared_policies`` (the company
tables' isolation and platform policies, and the apps' own, e.g. sign-up).
Each installed policy carries ``qiro:<declared>:<installed>`` in its comment
(``qiro.db.declared``): a different first part means it was installed from
another declaration, a second part that differs from the shape the catalogs
print now means it was changed since. One query for all schemas.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils.translation import gettext_noop as N_
from psycopg import sql

from deployments.verification.base import Check, Result, about, declared_rows
from qiro.db.citus import is_citus
from qiro.db.declared import COMMENT_PREFIX, POLICY_SHAPE, DeclaredPolicy
from qiro.db.objects import declared_policies
from qiro.stored_text import Message, said

QUERY = sql.SQL(
    """,
declared(scope, relname, polname, digest) AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[])
)
SELECT s.nspname, d.relname, d.polname, d.digest, p.oid IS NOT NULL,
       md5({shape}), obj_description(p.oid, 'pg_policy'), {shape}
FROM schemas s JOIN declared d ON d.scope = s.scope
JOIN pg_namespace n ON n.nspname = s.nspname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = d.relname AND c.relkind IN ('r', 'p')
LEFT JOIN pg_policy p ON p.polrelid = c.oid AND p.polname = d.polname
"""
).format(shape=sql.SQL(POLICY_SHAPE))


def drift(
    digest: str, shape_md5: str | None, comment: str | None, shape: str | None
) -> Message | None:
    """What is wrong with one installed object, or None (shared by the hashed kinds)."""
    if shape_md5 is None:
        return said(N_("missing"))
    if not comment or not comment.startswith(COMMENT_PREFIX) or comment.count(":") != 2:
        return said(N_("installed without its declaration's hash"))
    declared, installed = comment[len(COMMENT_PREFIX) :].split(":")
    if installed != shape_md5:
        return said(N_("changed since it was installed, now: %(shape)s"), shape=shape)
    if declared != digest:
        return said(N_("installed from another declaration than the code's"))
    return None


class PoliciesCheck(Check):
    name = "policies"
    title = N_("Row policies as declared")
    skip = N_("no policies declared")

    def declared(self, verifier: Any) -> list[DeclaredPolicy]:
        with verifier.conn.cursor() as cursor:
            return declared_policies(citus=is_citus(cursor))

    def query(self, verifier: Any, declared: list[DeclaredPolicy]) -> list[Any]:
        rows = [(p.scope, p.table, p.name, p.digest) for p in declared]
        return declared_rows(verifier, QUERY, rows, 4)

    def findings(self, verifier: Any, declared: Any, rows: list[Any]) -> list[Result]:
        problems: dict[str, list[Message]] = defaultdict(list)
        counts: dict[str, int] = defaultdict(int)
        for schema, table, name, digest, exists, shape_md5, comment, shape in rows:
            counts[schema] += 1
            wrong = drift(digest, shape_md5 if exists else None, comment, shape)
            if wrong:
                problems[schema].append(about(f"{table}.{name}", wrong))
        expected = {
            s: said(N_("%(count)d declared policies, as declared"), count=n)
            for s, n in counts.items()
        }
        return self.per_schema(sorted(counts), problems, expected)
