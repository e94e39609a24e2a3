"""The owner's settings row: written by bootstrap, and its migration runs both ways."""

from __future__ import annotations

from django.core.management import call_command
from django.db import connections

from qiro import tenant_context
from qiro.server_settings import declared_values, write_server_settings
from registration import services
from tests.registration.factories import latest_migration, submitted

OBJECTS = """
    SELECT (SELECT count(*) FROM pg_class WHERE relname IN ('qiro_server_settings',
                'qiro_address_login_failure') AND relnamespace = 'public'::regnamespace),
           (SELECT count(*) FROM pg_proc WHERE proname LIKE 'qiro\\_%%login%%'),
           (SELECT count(*) FROM pg_proc WHERE proname = 'registration_issue_first_token')
"""


def migrate(app: str, target: str) -> None:
    with tenant_context.owner_context():
        call_command(
            "migrate_schemas", app, target, schema_name="public", interactive=False, verbosity=0
        )
    connections["owner"].set_schema_to_public()  # type: ignore[attr-defined]


def objects() -> tuple[int, int, int]:
    with connections["owner"].cursor() as cursor:
        cursor.execute(OBJECTS)
        row = cursor.fetchone()
    return row[0], row[1], row[2]


def test_bootstrap_writes_the_settings_from_the_environment(live_db, settings):
    original = settings.QIRO_SIGNUP_RESEND_LIMIT
    settings.QIRO_SIGNUP_RESEND_LIMIT = original + 4
    call_command("bootstrap", no_superuser=True, verbosity=0)
    try:
        with connections["owner"].cursor() as cursor:
            cursor.execute("SELECT signup_resend_limit, signup_token_key FROM qiro_server_settings")
            limit, key = cursor.fetchone()
        assert limit == original + 4
        assert bytes(key) == declared_values()["signup_token_key"]
    finally:
        settings.QIRO_SIGNUP_RESEND_LIMIT = original
        with connections["owner"].cursor() as cursor:
            write_server_settings(cursor)


def test_the_settings_migration_runs_backwards_and_forwards(live_db):
    """Back to zero drops the tables and functions (and the sign-up functions built on them)."""
    assert objects() == (2, 3, 1)
    try:
        migrate("qiro", "zero")
        assert objects() == (0, 0, 0)
    finally:
        migrate("qiro", "0001")
        migrate("registration", latest_migration())
        with connections["owner"].cursor() as cursor:
            write_server_settings(cursor)
    assert objects() == (2, 3, 1)
    _, token = submitted()
    assert services.verify_email(token=token) == "verified"
