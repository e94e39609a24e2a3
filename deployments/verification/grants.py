"""The runtime roles hold exactly the declared table rights: none missing, none wider.

Declared by ``qiro.db.roles``: in a company schema the runtime role has full
DML on every table but the narrowed ones (``runtime_privileges``) and the
owner-only ones, the platform role nothing; in ``public`` the runtime role
has its ``app_public_access`` only, the platform role full DML but on the
narrowed and owner-only tables. Partitions are reached through their parent
and are left out. Grants carry no comment: the sets are compared. One query
for all schemas, on the tables' ACLs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils.translation import gettext_noop as N_

from deployments.verification.base import PUBLIC, Check, Result, about, with_schemas
from qiro.db.roles import DML, OWNER_ONLY_TABLES, app_public_access, runtime_privileges
from qiro.stored_text import Message, said

# Every table privilege: a runtime role holding TRUNCATE or TRIGGER is widened too.
TABLE_PRIVILEGES = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]
QUERY = """
SELECT s.nspname, c.relname, r.rolname::text,
       ARRAY(SELECT DISTINCT a.privilege_type::text
             FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
             WHERE a.grantee = r.oid AND a.privilege_type = ANY(%s::text[]) ORDER BY 1)
FROM schemas s
JOIN pg_namespace n ON n.nspname = s.nspname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND NOT c.relispartition
CROSS JOIN pg_roles r
WHERE r.rolname = ANY(%s::text[])
"""


def expected_rights(*, schema: str, table: str, kind: str) -> set[str]:
    """The rights of one runtime role kind (``app``, ``platform``) on one table."""
    narrowed = runtime_privileges()
    if table in OWNER_ONLY_TABLES:
        return set()
    if schema == PUBLIC:
        if kind == "app":
            return set(app_public_access().get(table, ())) & set(DML)
        return set(narrowed.get(table, DML)) & set(DML)
    if kind == "platform":
        return set()
    return set(narrowed.get(table, DML)) & set(DML)


class GrantsCheck(Check):
    name = "grants"
    title = N_("Runtime roles' table rights")

    def query(self, verifier: Any, declared: Any) -> list[Any]:
        return verifier.rows(
            with_schemas(QUERY),
            [verifier.companies, TABLE_PRIVILEGES, sorted(verifier.runtime_roles.values())],
        )

    def findings(self, verifier: Any, declared: Any, rows: list[Any]) -> list[Result]:
        kinds = {name: kind for kind, name in verifier.runtime_roles.items()}
        problems: dict[str, list[Message]] = defaultdict(list)
        for schema, table, role, held in rows:
            scope = PUBLIC if schema == PUBLIC else "company"
            wanted = expected_rights(schema=scope, table=table, kind=kinds[role])
            wider, missing = sorted(set(held) - wanted), sorted(wanted - set(held))
            if wider:
                wrong = said(N_("%(role)s has more than declared: %(rights)s"), role=role,
                             rights=wider)  # fmt: skip
                problems[schema].append(about(table, wrong))
            if missing:
                wrong = said(N_("%(role)s lacks declared %(rights)s"), role=role, rights=missing)
                problems[schema].append(about(table, wrong))
        expected = dict.fromkeys(
            verifier.all_schemas, said(N_("runtime roles: the declared rights exactly"))
        )
        return self.per_schema(verifier.all_schemas, problems, expected)
