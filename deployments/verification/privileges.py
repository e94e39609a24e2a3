"""No runtime role reaches what only the owner may: owner-only tables, undeclared public rights.

Owner-only tables (``django_migrations``) are untouchable in every schema; in
``public`` the runtime role has only its declared ``app_public_access``; the
platform role cannot use company schemas. (The exact sets: ``grants``.)
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils.translation import gettext_noop as N_

from deployments.verification.base import PUBLIC, Check, Result, with_schemas
from qiro.db.roles import OWNER_ONLY_TABLES, app_public_access
from qiro.stored_text import Message, said

QUERY = """
SELECT s.nspname, c.relname, r.rolname::text,
       ARRAY(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p
             WHERE has_table_privilege(r.oid, c.oid, p)),
       has_schema_privilege(r.oid, n.oid, 'USAGE')
FROM schemas s
JOIN pg_namespace n ON n.nspname = s.nspname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
CROSS JOIN pg_roles r
WHERE r.rolname = ANY(%s::text[])
  AND (s.nspname = 'public' OR c.relname = ANY(%s::text[]) OR r.rolname = %s)
"""


class PrivilegesCheck(Check):
    name = "privileges"
    title = N_("Nothing beyond the declared rights")

    def declared(self, verifier: Any) -> dict[str, tuple[str, ...]]:
        return app_public_access()

    def query(self, verifier: Any, declared: Any) -> list[Any]:
        app, platform = verifier.runtime_roles["app"], verifier.runtime_roles["platform"]
        return verifier.rows(
            with_schemas(QUERY),
            [verifier.companies, [app, platform], list(OWNER_ONLY_TABLES), platform],
        )

    def findings(self, verifier: Any, declared: Any, rows: list[Any]) -> list[Result]:
        app, platform = verifier.runtime_roles["app"], verifier.runtime_roles["platform"]
        problems: dict[str, list[Message]] = defaultdict(list)
        for schema, table, role, privileges, usage in rows:
            if not privileges:
                continue
            if table in OWNER_ONLY_TABLES:
                problems[schema].append(
                    said(N_("%(role)s has %(rights)s on %(table)s"), role=role,
                         rights=list(privileges), table=table)
                )  # fmt: skip
            elif schema == PUBLIC and role == app:
                extra = sorted(set(privileges) - set(declared.get(table, ())))
                if extra:
                    problems[schema].append(
                        said(N_("%(role)s has undeclared %(rights)s on %(table)s"), role=role,
                             rights=extra, table=table)
                    )  # fmt: skip
            elif schema != PUBLIC and role == platform and usage:
                problems[schema].append(
                    said(N_("%(role)s can use this company schema (%(table)s)"), role=role,
                         table=table)
                )  # fmt: skip
        expected = dict.fromkeys(
            verifier.all_schemas, said(N_("runtime roles: declared rights only"))
        )
        return self.per_schema(verifier.all_schemas, problems, expected)
