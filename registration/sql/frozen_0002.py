"""Row policies and function grants as migration ``registration/0002`` installed them.

That landed migration calls ``enable_statements`` / ``disable_statements``
(through ``registration.policies``), so what they return is history and must
not change; ``registration/0004`` and later migrations change the policies
with SQL of their own, and ``registration.policies`` declares the current
state.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from qiro.db.roles import role_name

PLATFORM_POLICY = "registration_platform_access"
SIGNUP_POLICY = "registration_signup_insert"

# table -> the row the anonymous sign-up may insert (None: nothing)
INSERT_CHECKS_0002: dict[str, str | None] = {
    "registration_application": (
        "status = 'submitted' AND reviewed_by_id IS NULL AND decided_at IS NULL "
        "AND email_verified_at IS NULL AND company_id IS NULL AND rejection_reason = ''"
    ),
    "registration_emailverificationtoken": "status = 'pending' AND used_at IS NULL",
    "registration_reviewevent": None,
}
FUNCTIONS_0002 = (
    "registration_availability(text, text, text, text)",
    "registration_consume_email_token(text)",
    "registration_issue_resend_token(text, text, integer, integer, integer)",
)


def enable_statements() -> list[sql.Composed]:
    app, platform = sql.Identifier(role_name("app")), sql.Identifier(role_name("platform"))
    statements: list[sql.Composed] = []
    for table, check in INSERT_CHECKS_0002.items():
        t = sql.Identifier("public", table)
        statements += [
            sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(t),
            sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(t),
            sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(PLATFORM_POLICY), t),
            sql.SQL("CREATE POLICY {} ON {} FOR ALL TO {} USING (true) WITH CHECK (true)").format(
                sql.Identifier(PLATFORM_POLICY), t, platform
            ),
            sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(SIGNUP_POLICY), t),
        ]
        if check is not None:
            statements.append(
                sql.SQL("CREATE POLICY {} ON {} FOR INSERT TO {} WITH CHECK ({})").format(
                    sql.Identifier(SIGNUP_POLICY),
                    t,
                    app,
                    sql.SQL(check),  # a literal of this module, never input
                )
            )
    for function in FUNCTIONS_0002:
        statements += [
            sql.SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(sql.SQL(function)),
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(function), app),
        ]
    return statements


def disable_statements() -> list[sql.Composed]:
    statements: list[sql.Composed] = []
    for table in INSERT_CHECKS_0002:
        t = sql.Identifier("public", table)
        statements += [
            sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(SIGNUP_POLICY), t),
            sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(PLATFORM_POLICY), t),
            sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(t),
            sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(t),
        ]
    return statements


def apply(cursor: Any, statements: list[sql.Composed]) -> None:
    for statement in statements:
        cursor.execute(statement)
