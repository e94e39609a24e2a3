"""The sign-up's tables hold exactly the declared policies; the definer-only tables none.

On the registration tables exactly the declared policies (name, permissive,
command, roles, and the ``USING`` / ``WITH CHECK`` expressions as
``pg_get_expr`` prints them), row security on and forced; on the
definer-only tables (``qiro.models.DEFINER_ONLY_TABLES``) row security forced,
no policy and no runtime-role privilege. One query.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django.utils.translation import gettext_noop as N_

from deployments.verification.base import FAIL, PASS, Check, Result, about, text
from qiro.db.declared import DeclaredPolicy, normal
from qiro.db.objects import app_objects
from qiro.models import DEFINER_ONLY_TABLES
from qiro.stored_text import said

POLICIES_QUERY = """
SELECT t.name, c.oid IS NOT NULL, coalesce(c.relrowsecurity, false),
       coalesce(c.relforcerowsecurity, false),
       ARRAY(SELECT r || ' ' || p FROM unnest(%s::text[]) r,
                    unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p
             WHERE c.oid IS NOT NULL AND has_table_privilege(r, c.oid, p) ORDER BY 1),
       ARRAY(SELECT json_build_array(pol.policyname, pol.permissive, pol.cmd,
                                     pol.roles::text[], pol.qual, pol.with_check)::text
             FROM pg_policies pol
             WHERE pol.schemaname = 'public' AND pol.tablename = t.name ORDER BY 1)
FROM unnest(%s::text[]) t(name)
LEFT JOIN pg_class c ON c.relname = t.name AND c.relnamespace = 'public'::regnamespace
"""


def _normal(expression: str | None) -> str | None:
    return normal(expression) if expression is not None else None


class SignupPoliciesCheck(Check):
    name = "signup_policies"
    title = N_("Sign-up tables' policies")

    def declared(self, verifier: Any) -> list[DeclaredPolicy]:
        return [obj for obj in app_objects() if isinstance(obj, DeclaredPolicy)]

    def query(self, verifier: Any, declared: list[DeclaredPolicy]) -> list[Any]:
        tables = [*sorted({p.table for p in declared}), *DEFINER_ONLY_TABLES]
        return verifier.rows(POLICIES_QUERY, [sorted(verifier.runtime_roles.values()), tables])

    def findings(
        self, verifier: Any, declared: list[DeclaredPolicy], rows: list[Any]
    ) -> list[Result]:
        roles = verifier.runtime_roles
        expected: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
        for p in declared:
            expected[p.table].add(
                (
                    p.name,
                    "PERMISSIVE",
                    p.command,
                    (roles[p.role],),
                    _normal(p.using),
                    _normal(p.check),
                )
            )
        return [self._table(row, expected) for row in rows]

    def _table(self, row: tuple[Any, ...], expected: dict[str, set[tuple[Any, ...]]]) -> Result:
        table, exists, enabled, forced, privileges, policies = row
        found = set()
        for policy in policies:
            name, permissive, command, role_names, qual, check = json.loads(policy)
            found.add((name, permissive, command, tuple(role_names), _normal(qual), _normal(check)))
        problems = [] if exists else [said(N_("table missing"))]
        if exists:
            problems += [
                said(label)
                for label, bad in (
                    (N_("row security off"), not enabled),
                    (N_("FORCE missing"), not forced),
                )
                if bad
            ]
            problems += [
                said(N_("policy missing or changed: %(policy)s"), policy=str(p))
                for p in sorted(expected[table] - found, key=str)
            ]
            problems += [
                said(N_("undeclared policy: %(policy)s"), policy=str(p))
                for p in sorted(found - expected[table], key=str)
            ]
            if table in DEFINER_ONLY_TABLES and privileges:
                problems.append(said(N_("runtime roles have %(rights)s"), rights=str(privileges)))
        declared = said(
            N_("%(count)d declared policies, row security forced"), count=len(expected[table])
        )
        return Result(
            self.name,
            "public",
            FAIL if problems else PASS,
            text(about(table, declared)),
            text([about(table, p) for p in problems]) if problems else "",
        )
