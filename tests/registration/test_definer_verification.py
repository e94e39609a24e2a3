"""``verify`` compares the SECURITY DEFINER functions and the sign-up policies with the code.

Each test breaks one declared property in the test database as the owner
(a body, SECURITY DEFINER, the pinned search_path, a grant, an old version
left callable, a policy's expression or role, a right on an owner-only
table), sees verification name it, and repairs it.
"""

from __future__ import annotations

import pytest

from deployments.services import runtime_roles
from deployments.verification import Verifier
from deployments.verification.base import FAIL
from qiro.db import pg
from qiro.db.roles import role_name
from tests.conftest import english

RESEND = "public.registration_issue_resend_token(text)"


def verify(check: str) -> dict[str, str]:
    """The failures of one check: what each failing result says it found."""
    with pg.connect() as conn:
        results = Verifier(conn, runtime_roles=runtime_roles()).run_check(check)
    return {english(r.expected): english(r.found) for r in results if r.outcome == FAIL}


def owner(statement: str) -> None:
    with pg.connect() as conn:
        conn.execute(statement.format(app=role_name("app"), platform=role_name("platform")))


def definition(signature: str) -> str:
    with pg.connect() as conn:
        row = conn.execute("SELECT pg_get_functiondef(%s::regprocedure)", [signature]).fetchone()
    assert row is not None
    return str(row[0])


def test_the_declared_functions_and_policies_pass(live_db):
    assert verify("definer_functions") == {}
    assert verify("signup_policies") == {}


def reported_with_changed_body(signature: str, old: str, new: str) -> list[str]:
    """Replace ``old`` by ``new`` in a function's body as the owner, verify, put the body back."""
    original = definition(signature)
    changed = original.replace(old, new)
    assert changed != original
    owner(changed.replace("{", "{{").replace("}", "}}"))
    try:
        found = verify("definer_functions")
    finally:
        owner(original.replace("{", "{{").replace("}", "}}"))
    return list(found.values())


def reported_while_broken(check: str, breaks: str, repairs: str) -> str:
    """Break one property as the owner, run one check, repair: the one failure it reported."""
    owner(breaks)
    try:
        found = verify(check)
    finally:
        owner(repairs)
    assert verify(check) == {}  # repaired: the test leaves the database as declared
    assert len(found) == 1
    return next(iter(found.values()))


def test_a_changed_function_body_is_reported_by_name(live_db):
    found = reported_with_changed_body(
        RESEND, "recent >= conf.signup_resend_limit", "recent >= 1000000"
    )
    assert found == ["registration_issue_resend_token(text): body differs from the declared one"]


@pytest.mark.parametrize(
    ("breaks", "repairs", "reported"),
    [
        (
            f"ALTER FUNCTION {RESEND} SECURITY INVOKER",
            f"ALTER FUNCTION {RESEND} SECURITY DEFINER",
            "registration_issue_resend_token(text): SECURITY DEFINER missing",
        ),
        (
            f"ALTER FUNCTION {RESEND} RESET search_path",
            f"ALTER FUNCTION {RESEND} SET search_path = pg_catalog, pg_temp",
            "registration_issue_resend_token(text): search_path not pinned",
        ),
        (
            "GRANT EXECUTE ON FUNCTION public.registration_insert_email_token(uuid) TO PUBLIC",
            "REVOKE EXECUTE ON FUNCTION public.registration_insert_email_token(uuid) FROM PUBLIC",
            "registration_insert_email_token(uuid): EXECUTE granted to PUBLIC, declared the owner "
            "only",
        ),
        (
            "GRANT EXECUTE ON FUNCTION public.qiro_forget_old_login_failures() TO {app}",
            "REVOKE EXECUTE ON FUNCTION public.qiro_forget_old_login_failures() FROM {app}",
            "qiro_forget_old_login_failures(): EXECUTE granted to",
        ),
        (
            "CREATE FUNCTION public.registration_issue_resend_token(text, text, integer, integer,"
            " integer) RETURNS text LANGUAGE sql AS $$ SELECT 'sent' $$",
            "DROP FUNCTION public.registration_issue_resend_token(text, text, integer, integer,"
            " integer)",
            "registration_issue_resend_token(text): other versions callable",
        ),
    ],
)
def test_a_broken_function_property_is_reported_by_name(live_db, breaks, repairs, reported):
    assert reported_while_broken("definer_functions", breaks, repairs).startswith(reported)


@pytest.mark.parametrize(
    ("breaks", "repairs", "reported"),
    [
        (
            "ALTER POLICY registration_signup_insert ON public.registration_application "
            "WITH CHECK (status = 'submitted')",
            "ALTER POLICY registration_signup_insert ON public.registration_application "
            "WITH CHECK (status = 'submitted' AND reviewed_by_id IS NULL AND decided_at IS NULL "
            "AND email_verified_at IS NULL AND company_id IS NULL AND rejection_reason = '')",
            "registration_application: policy missing or changed",
        ),
        (
            "ALTER POLICY registration_platform_access ON public.registration_reviewevent "
            "TO {platform}, {app}",
            "ALTER POLICY registration_platform_access ON public.registration_reviewevent "
            "TO {platform}",
            "registration_reviewevent: policy missing or changed",
        ),
        (
            "CREATE POLICY dp_probe ON public.registration_emailverificationtoken "
            "FOR SELECT TO {app} USING (true)",
            "DROP POLICY dp_probe ON public.registration_emailverificationtoken",
            "registration_emailverificationtoken: undeclared policy",
        ),
        (
            "GRANT SELECT ON public.qiro_server_settings TO {platform}",
            "REVOKE SELECT ON public.qiro_server_settings FROM {platform}",
            "qiro_server_settings: runtime roles have",
        ),
        (
            "ALTER TABLE public.qiro_address_login_failure NO FORCE ROW LEVEL SECURITY",
            "ALTER TABLE public.qiro_address_login_failure FORCE ROW LEVEL SECURITY",
            "qiro_address_login_failure: FORCE missing",
        ),
    ],
)
def test_a_changed_policy_or_table_right_is_reported_by_name(live_db, breaks, repairs, reported):
    assert reported_while_broken("signup_policies", breaks, repairs).startswith(reported)


def test_verify_runs_both_checks(live_db):
    with pg.connect() as conn:
        checks = {
            r.check for r in Verifier(conn, runtime_roles=runtime_roles()).run(observations=False)
        }
    assert {"definer_functions", "signup_policies"} <= checks
