"""Pluggable BRN verifier, management commands, and the migrations run both ways."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connections
from django.db.models.signals import post_migrate

from qiro import tenant_context
from qiro.db.secure import apply_grants_after_migrate
from registration import policies
from registration.link_state import LINK_FUNCTIONS
from registration.models import Application, VerificationStatus
from registration.verifiers import BrnStatus, BrnStatusVerifier, get_verifier
from tenants import schema_pool
from tests.registration.factories import latest_migration, submitted, verified


class AlwaysOperating(BrnStatusVerifier):
    """A stand-in authority for the test: answers that every business operates."""

    name = "test-authority"

    def check(self, brn: str) -> BrnStatus:
        return BrnStatus(status=VerificationStatus.VERIFIED, checked_by=self.name)


def test_a_plugged_in_verifier_records_its_answer_and_its_name(live_db, settings):
    settings.QIRO_BRN_STATUS_VERIFIER = f"{__name__}.AlwaysOperating"
    application, _ = submitted()
    stored = Application.objects.using("owner").get(pk=application.pk)
    assert (stored.brn_status, stored.brn_checked_by) == ("verified", "test-authority")


def test_a_verifier_must_be_a_verifier(settings):
    settings.QIRO_BRN_STATUS_VERIFIER = "registration.models.Application"
    with pytest.raises(TypeError):
        get_verifier()


def test_fill_schema_pool_and_refresh_company_stats_commands(live_db, two_companies):
    out = StringIO()
    call_command("fill_schema_pool", size=1, stdout=out)
    with connections["owner"].cursor() as cursor:
        assert len(schema_pool.pool_schemas(cursor, current_only=True)) >= 1
    out = StringIO()
    call_command("refresh_company_stats", stdout=out)
    assert "companies refreshed" in out.getvalue()


REGISTRATION_OBJECTS = """
    SELECT (SELECT count(*) FROM pg_class WHERE relname LIKE 'registration\\_%%'
                AND relnamespace = 'public'::regnamespace),
           (SELECT count(*) FROM pg_type WHERE typname IN ('application_status',
                'verification_status') AND typnamespace = 'public'::regnamespace),
           (SELECT count(*) FROM pg_proc WHERE proname LIKE 'registration\\_%%')
"""


def test_registration_migrations_run_backwards_and_forwards(live_db):
    """Every reverse_sql is run, not trusted; then the app is migrated again."""
    sysauth = apps.get_app_config("sysauth")

    def migrate(target: str) -> None:
        if target == "zero":
            # qiro's post-migrate grants name every declared table, present or not.
            post_migrate.disconnect(dispatch_uid="qiro.apply_grants_after_migrate", sender=sysauth)
        else:
            post_migrate.connect(
                apply_grants_after_migrate, dispatch_uid="qiro.apply_grants_after_migrate",
                sender=sysauth,
            )  # fmt: skip
        with tenant_context.owner_context():
            call_command(
                "migrate_schemas", "registration", target, schema_name="public",
                interactive=False, verbosity=0,
            )  # fmt: skip
        connections["owner"].set_schema_to_public()  # type: ignore[attr-defined]

    verified()  # the tables hold rows when they are dropped
    try:
        migrate("zero")
        with connections["owner"].cursor() as cursor:
            cursor.execute(REGISTRATION_OBJECTS)
            assert cursor.fetchone() == (0, 0, 0)
    finally:
        migrate(latest_migration())
    with connections["owner"].cursor() as cursor:
        cursor.execute(REGISTRATION_OBJECTS)
        tables, types, functions = cursor.fetchone()
    assert tables > 4
    assert (types, functions) == (2, len(policies.SIGNUP_FUNCTIONS) + len(LINK_FUNCTIONS))
    _, token = submitted()  # grants and policies are back for the sign-up role
    from registration import services

    assert services.verify_email(token=token) == "verified"
