"""Verification of the SECURITY DEFINER functions and of the sign-up's row policies.

What the code declares (``registration.policies``, ``sysauth.address_throttle``,
``qiro.models.DEFINER_ONLY_TABLES``) against the catalogs, each check in one
query:

* ``definer_functions``: every declared function exists with its body (MD5 of
  ``prosrc`` against the declared text), ``SECURITY DEFINER`` or not as
  declared, owned by the verifying owner, ``search_path`` pinned, its result
  type, EXECUTE for the declared runtime roles only (never PUBLIC), and no
  other function of the same name (an old version left callable);
* ``signup_policies``: on the registration tables exactly the declared
  policies (name, permissive, command, roles, and the ``USING`` / ``WITH
  CHECK`` expressions as ``pg_get_expr`` prints them), row security on and
  forced; on the definer-only tables row security forced, no policy and no
  runtime-role privilege.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from qiro.definer import PINNED_SEARCH_PATH, DeclaredFunction
from qiro.models import DEFINER_ONLY_TABLES

if TYPE_CHECKING:
    from deployments.verification import Result, Verifier


def declared_functions() -> list[DeclaredFunction]:
    from registration.link_state import LINK_FUNCTIONS
    from registration.policies import SIGNUP_FUNCTIONS
    from sysauth.address_throttle import THROTTLE_FUNCTIONS

    return [*SIGNUP_FUNCTIONS, *LINK_FUNCTIONS, *THROTTLE_FUNCTIONS]


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


def check_definer_functions(verifier: Verifier) -> list[Result]:
    from deployments.verification import FAIL, PASS, Result

    functions = declared_functions()
    rows = verifier._rows(
        FUNCTIONS_QUERY, [[f.signature for f in functions], [f.name for f in functions]]
    )
    by_signature = {row[0]: row for row in rows}
    results = []
    for declared in functions:
        problems = function_problems(
            declared, by_signature[declared.signature], verifier.runtime_roles
        )
        executors = ", ".join(declared.execute) or "the owner only"
        results.append(
            Result(
                "definer_functions",
                "public",
                FAIL if problems else PASS,
                f"{declared.signature}: declared body, "
                f"{'SECURITY DEFINER' if declared.security_definer else 'invoker'}, "
                f"pinned search_path, EXECUTE: {executors}",
                f"{declared.signature}: " + "; ".join(problems) if problems else "",
            )
        )
    return results


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
    return " ".join(expression.split()) if expression is not None else None


def check_signup_policies(verifier: Verifier) -> list[Result]:
    from deployments.verification import FAIL, PASS, Result
    from registration.policies import REGISTRATION_TABLES, SIGNUP_POLICIES

    roles = verifier.runtime_roles
    expected: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    for p in SIGNUP_POLICIES:
        expected[p.table].add(
            (p.name, "PERMISSIVE", p.command, (roles[p.role],), _normal(p.using), _normal(p.check))
        )
    tables = [*REGISTRATION_TABLES, *DEFINER_ONLY_TABLES]
    rows = verifier._rows(POLICIES_QUERY, [sorted(roles.values()), tables])
    results = []
    for table, exists, enabled, forced, privileges, policies in rows:
        found = set()
        for text in policies:
            name, permissive, command, role_names, qual, check = json.loads(text)
            found.add((name, permissive, command, tuple(role_names), _normal(qual), _normal(check)))
        problems = [] if exists else ["table missing"]
        if exists:
            problems += [
                label
                for label, bad in (("row security off", not enabled), ("FORCE missing", not forced))
                if bad
            ]
            problems += [
                f"policy missing or changed: {p}" for p in sorted(expected[table] - found, key=str)
            ]
            problems += [
                f"undeclared policy: {p}" for p in sorted(found - expected[table], key=str)
            ]
            if table in DEFINER_ONLY_TABLES and privileges:
                problems.append(f"runtime roles have {privileges}")
        results.append(
            Result(
                "signup_policies",
                "public",
                FAIL if problems else PASS,
                f"{table}: {len(expected[table])} declared policies, row security forced",
                f"{table}: " + "; ".join(problems) if problems else "",
            )
        )
    return results
