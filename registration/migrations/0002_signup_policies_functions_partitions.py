"""Least privilege for the anonymous sign-up, and the first token partitions.

SECURITY DEFINER functions (sql/0002_signup_functions.sql), then the row
policies and function grants of that day (role names come from the settings,
so they are applied in Python), then this month's and the next three token
partitions. Every step is reversible. Everything here is frozen as it was
written: later migrations (0004 and on) change the policies and functions with
SQL of their own, and ``registration.policies`` declares the current state.
"""

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.db import migrations
from psycopg import sql

SQL_DIR = Path(__file__).resolve().parent / "sql"
PLATFORM_POLICY = "registration_platform_access"
SIGNUP_POLICY = "registration_signup_insert"
# table -> the row the anonymous sign-up may insert (None: nothing)
INSERT_CHECKS = {
    "registration_application": (
        "status = 'submitted' AND reviewed_by_id IS NULL AND decided_at IS NULL "
        "AND email_verified_at IS NULL AND company_id IS NULL AND rejection_reason = ''"
    ),
    "registration_emailverificationtoken": "status = 'pending' AND used_at IS NULL",
    "registration_reviewevent": None,
}
FUNCTIONS = (
    "registration_availability(text, text, text, text)",
    "registration_consume_email_token(text)",
    "registration_issue_resend_token(text, text, integer, integer, integer)",
)
PARTITIONED = "registration_emailverificationtoken"
PARTITION_MONTHS = 4  # this month and three ahead


def _role(alias):
    return sql.Identifier(settings.DATABASES[alias]["USER"])


def _run(schema_editor, statements):
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def enable_policies(apps, schema_editor):
    app, platform = _role("default"), _role("platform")
    statements = []
    for table, check in INSERT_CHECKS.items():
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
                    sql.Identifier(SIGNUP_POLICY), t, app, sql.SQL(check)
                )
            )
    for function in FUNCTIONS:
        statements += [
            sql.SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(sql.SQL(function)),
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(function), app),
        ]
    _run(schema_editor, statements)


def disable_policies(apps, schema_editor):
    statements = []
    for table in INSERT_CHECKS:
        t = sql.Identifier("public", table)
        statements += [
            sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(SIGNUP_POLICY), t),
            sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(PLATFORM_POLICY), t),
            sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(t),
            sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(t),
        ]
    _run(schema_editor, statements)


def create_partitions(apps, schema_editor):
    """Monthly partitions with UTC bounds, row security on, no right for the runtime role."""
    today = dt.datetime.now(dt.UTC).date()
    first = today.year * 12 + today.month - 1
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relnamespace = 'public'::regnamespace AND p.relname = %s",
            [PARTITIONED],
        )
        present = {row[0] for row in cursor.fetchall()}
        for index in range(first, first + PARTITION_MONTHS):
            lower = dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=dt.UTC)
            upper = dt.datetime((index + 1) // 12, (index + 1) % 12 + 1, 1, tzinfo=dt.UTC)
            name = f"{PARTITIONED}_p{lower:%Y_%m}"
            if name in present:
                continue
            table = sql.Identifier("public", name)
            cursor.execute(
                sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                    table,
                    sql.Identifier("public", PARTITIONED),
                    sql.Literal(lower),
                    sql.Literal(upper),
                )
            )
            cursor.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(table))
            cursor.execute(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(table))
            cursor.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(table, _role("default")))


class Migration(migrations.Migration):
    dependencies = [("registration", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql=(SQL_DIR / "0002_signup_functions.sql").read_text(),
            reverse_sql=(SQL_DIR / "0002_signup_functions_reverse.sql").read_text(),
        ),
        migrations.RunPython(enable_policies, disable_policies),
        migrations.RunPython(create_partitions, migrations.RunPython.noop),
    ]
