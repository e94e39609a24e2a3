"""Every declared SECURITY DEFINER function is installed exactly as declared.

Declared in the apps' ``AppConfig.database_objects`` (``qiro.db.objects``):
each exists with its body (MD5 of ``prosrc`` against the declared text),
``SECURITY DEFINER`` or not as declared, owned by the verifying owner,
``search_path`` pinned, its result type, EXECUTE for the declared runtime
roles only (never PUBLIC), and no other function of the same name (an old
version left callable). One query.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop as N_

from deployments.verification.base import FAIL, PASS, Check, Result, about, text
from qiro.db.objects import declared_functions
from qiro.definer import PINNED_SEARCH_PATH, DeclaredFunction
from qiro.stored_text import Message, said

FUNCTIONS_QUERY = """
SELECT d.sig, p.oid IS NOT NULL, md5(p.prosrc), p.prosecdef, pg_get_userbyid(p.proowner),
       p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user),
       coalesce(p.proconfig, '{}'::text[]), pg_get_function_result(p.oid),
       ARRAY(SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END
             FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
             WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner ORDER BY 1),
       ARRAY(SELECT q.oid::regprocedure::text FROM pg_proc q
             WHERE q.pronamespace = 'public'::regnamespace AND q.proname = d.name
               AND q.oid IS DISTINCT FROM p.oid ORDER BY 1)
FROM unnest(%s::text[], %s::text[]) d(sig, name)
LEFT JOIN pg_proc p ON p.oid = to_regprocedure('public.' || d.sig)
"""


def function_problems(
    declared: DeclaredFunction, row: tuple[Any, ...], roles: dict[str, str]
) -> list[Message]:
    """What differs between one declared function and its catalog row."""
    _sig, exists, body_md5, definer, owner, owned, config, result, executors, others = row
    if not exists:
        return [said(N_("missing"))]
    wanted_executors = sorted(roles[kind] for kind in declared.execute)
    definer_wrong = (
        N_("SECURITY DEFINER missing") if declared.security_definer
        else N_("SECURITY DEFINER not declared")
    )  # fmt: skip
    return [
        problem
        for problem, wrong in (
            (said(N_("body differs from the declared one")), body_md5 != declared.body_md5),
            (said(definer_wrong), definer != declared.security_definer),
            (said(N_("owned by %(owner)s, not the owner"), owner=owner), not owned),
            (
                said(N_("search_path not pinned (%(config)s)"), config=str(config)),
                PINNED_SEARCH_PATH not in config,
            ),
            (
                said(N_("returns %(result)s, declared %(declared)s"), result=result,
                     declared=declared.result),
                result != declared.result,
            ),
            (
                said(N_("EXECUTE granted to %(granted)s, declared %(declared)s"),
                     granted=sorted(executors),
                     declared=wanted_executors or said(N_("the owner only"))),
                sorted(executors) != wanted_executors,
            ),
            (said(N_("other versions callable: %(others)s"), others=str(others)), bool(others)),
        )
        if wrong
    ]  # fmt: skip


class DefinerFunctionsCheck(Check):
    name = "definer_functions"
    title = N_("SECURITY DEFINER functions as declared")

    def declared(self, verifier: Any) -> list[DeclaredFunction]:
        return declared_functions()

    def query(self, verifier: Any, declared: list[DeclaredFunction]) -> dict[str, Any]:
        rows = verifier.rows(
            FUNCTIONS_QUERY, [[f.signature for f in declared], [f.name for f in declared]]
        )
        return {row[0]: row for row in rows}

    def findings(
        self, verifier: Any, declared: list[DeclaredFunction], by_signature: dict[str, Any]
    ) -> list[Result]:
        results = []
        for function in declared:
            problems = function_problems(
                function, by_signature[function.signature], verifier.runtime_roles
            )
            executors: Message | list[str] = list(function.execute) or said(N_("the owner only"))
            kind = "SECURITY DEFINER" if function.security_definer else said(N_("invoker"))
            expected = said(
                N_("declared body, %(kind)s, pinned search_path, EXECUTE: %(executors)s"),
                kind=kind, executors=executors,
            )  # fmt: skip
            results.append(
                Result(
                    self.name,
                    "public",
                    FAIL if problems else PASS,
                    text(about(function.signature, expected)),
                    text([about(function.signature, p) for p in problems]) if problems else "",
                )
            )
        return results
