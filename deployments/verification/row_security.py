"""ENABLE + FORCE, the isolation policy for all, the platform policy where declared.

Whether each policy says what it is declared to say is the ``policies`` check's.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils.translation import gettext_noop as N_

from deployments.verification.base import PUBLIC, Check, Result, about, declared_rows, scopes
from qiro.rls import ISOLATION_POLICY, PLATFORM_POLICY, RowSecurity, protected_models
from qiro.stored_text import Message, said

QUERY = """,
declared(scope, relname, platform) AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::bool[])
)
SELECT s.nspname, d.relname, d.platform, c.oid IS NOT NULL,
       coalesce(c.relrowsecurity, false), coalesce(c.relforcerowsecurity, false),
       EXISTS (
           SELECT 1 FROM pg_policy p
           WHERE p.polrelid = c.oid AND p.polname = %s AND p.polcmd = '*'
             AND p.polpermissive AND p.polroles = '{0}'::oid[]
       ),
       EXISTS (
           SELECT 1 FROM pg_policy p JOIN pg_roles r ON r.oid = ANY(p.polroles)
           WHERE p.polrelid = c.oid AND p.polname = %s AND r.rolname = %s
             AND cardinality(p.polroles) = 1
       ),
       ARRAY(SELECT p.polname::text FROM pg_policy p WHERE p.polrelid = c.oid
             AND p.polname NOT IN (%s, %s) ORDER BY 1)
FROM schemas s JOIN declared d ON d.scope = s.scope
LEFT JOIN pg_namespace n ON n.nspname = s.nspname
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = d.relname
                    AND c.relkind IN ('r', 'p')
"""


class RowSecurityCheck(Check):
    name = "row_security"
    title = N_("Row security on the protected tables")
    skip = N_("no protected models")

    def declared(self, verifier: Any) -> list[tuple[str, str, bool]]:
        found = []  # scope, table, has a platform policy
        for model in protected_models():
            rs: RowSecurity = model.row_security  # type: ignore[attr-defined]
            for scope in scopes(model):
                found.append(
                    (scope, model._meta.db_table, rs.platform is not None and scope == PUBLIC)
                )
        return found

    def query(self, verifier: Any, declared: list[tuple[str, str, bool]]) -> list[Any]:
        return declared_rows(
            verifier,
            QUERY,
            declared,
            3,
            ISOLATION_POLICY,
            PLATFORM_POLICY,
            verifier.runtime_roles["platform"],
            ISOLATION_POLICY,
            PLATFORM_POLICY,
        )

    def findings(self, verifier: Any, declared: Any, rows: list[Any]) -> list[Result]:
        problems: dict[str, list[Message]] = defaultdict(list)
        tables: dict[str, int] = defaultdict(int)
        for schema, table, platform, exists, enabled, forced, isolation, plat, extra in rows:
            tables[schema] += 1
            if not exists:
                problems[schema].append(about(table, said(N_("table missing"))))
                continue
            wrong = [
                label
                for label, ok in (
                    (said(N_("ENABLE missing")), enabled),
                    (said(N_("FORCE missing")), forced),
                    (
                        said(N_("policy %(policy)s missing or altered"), policy=ISOLATION_POLICY),
                        isolation,
                    ),
                    (
                        said(N_("policy %(policy)s missing"), policy=PLATFORM_POLICY),
                        plat or not platform,
                    ),
                    (
                        said(
                            N_("policy %(policy)s where none is declared"), policy=PLATFORM_POLICY
                        ),
                        platform or not plat,
                    ),
                    (said(N_("unexpected policies %(policies)s"), policies=str(extra)), not extra),
                )
                if not ok
            ]
            problems[schema] += [about(table, w) for w in wrong]
        expected = {
            s: said(N_("%(count)d tables: ENABLE, FORCE, %(policy)s"), count=n,
                    policy=ISOLATION_POLICY)
            for s, n in tables.items()
        }  # fmt: skip
        return self.per_schema(verifier.all_schemas, problems, expected)
