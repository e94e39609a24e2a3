"""The runtime roles: no superuser, no BYPASSRLS, own nothing, belong to no role."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop as N_

from deployments.verification.base import FAIL, PASS, Check, Result, about, text
from qiro.stored_text import said

QUERY = """
SELECT x.name, r.oid IS NOT NULL, coalesce(r.rolsuper, false),
       coalesce(r.rolbypassrls, false),
       coalesce(r.rolcreaterole, false) OR coalesce(r.rolcreatedb, false),
       (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
       + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)
       + (SELECT count(*) FROM pg_type WHERE typowner = r.oid)
       + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid),
       ARRAY(SELECT g.rolname::text FROM pg_auth_members m
             JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid)
FROM unnest(%s::text[]) x(name) LEFT JOIN pg_roles r ON r.rolname = x.name
"""


class RolesCheck(Check):
    name = "roles"
    title = N_("Runtime roles")

    def declared(self, verifier: Any) -> list[str]:
        return [verifier.runtime_roles[k] for k in sorted(verifier.runtime_roles)]

    def query(self, verifier: Any, declared: list[str]) -> list[Any]:
        return verifier.rows(QUERY, [declared])

    def findings(self, verifier: Any, declared: Any, rows: list[Any]) -> list[Result]:
        results = []
        for name, exists, superuser, bypass, creates, owned, member_of in rows:
            wrong = [
                label
                for label, bad in (
                    (said(N_("role missing")), not exists),
                    ("SUPERUSER", superuser),
                    ("BYPASSRLS", bypass),
                    ("CREATEROLE/CREATEDB", creates),
                    (said(N_("owns %(count)d objects"), count=owned), owned),
                    (said(N_("member of %(roles)s"), roles=str(member_of)), member_of),
                )
                if bad
            ]
            results.append(
                Result(
                    self.name,
                    "",
                    FAIL if wrong else PASS,
                    text(
                        about(
                            name,
                            said(N_("NOSUPERUSER NOBYPASSRLS, owns nothing, member of nothing")),
                        )
                    ),
                    text([about(name, w) for w in wrong]) if wrong else "",
                )
            )
        return results
