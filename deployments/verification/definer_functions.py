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

from deployments.verification.base import FAIL, PASS, Check, Result
from qiro.db.objects import declared_functions
from qiro.definer import PINNED_SEARCH_PATH, DeclaredFunction

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
) -> list[str]:
    """What differs between one declared function and its catalog row."""
    _sig, exists, body_md5, definer, owner, owned, config, result, executors, others = row
    if not exists:
        return ["missing"]
    wanted_executors = sorted(roles[kind] for kind in declared.execute)
    return [
        problem
        for problem, wrong in (
            ("body differs from the declared one", body_md5 != declared.body_md5),
            (
                "SECURITY DEFINER" + (" missing" if declared.security_definer else " not declared"),
                definer != declared.security_definer,
            ),
            (f"owned by {owner}, not the owner", not owned),
            (f"search_path not pinned ({config})", PINNED_SEARCH_PATH not in config),
            (f"returns {result}, declared {declared.result}", result != declared.result),
            (
                f"EXECUTE granted to {executors}, declared {wanted_executors}",
                sorted(executors) != wanted_executors,
            ),
            (f"other versions callable: {others}", bool(others)),
        )
        if wrong
    ]


class DefinerFunctionsCheck(Check):
    name = "definer_functions"

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
            executors = ", ".join(function.execute) or "the owner only"
            kind = "SECURITY DEFINER" if function.security_definer else "invoker"
            results.append(
                Result(
                    self.name,
                    "public",
                    FAIL if problems else PASS,
                    f"{function.signature}: declared body, {kind}, "
                    f"pinned search_path, EXECUTE: {executors}",
                    f"{function.signature}: " + "; ".join(problems) if problems else "",
                )
            )
        return results
