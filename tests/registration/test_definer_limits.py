"""The sign-up's SECURITY DEFINER functions decide their own limits and make their tokens.

Each test attacks as the runtime role without company context, with
arguments of its choosing, the way SQL injected into the sign-up would.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.db import DatabaseError, connections, transaction

from qiro import tenant_context
from registration import services
from registration.models import Application, ApplicationStatus
from tests.registration.factories import server_settings, submitted
from tests.registration.test_least_privilege import as_signup


def application_status(application: Application) -> str:
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT status FROM registration_application WHERE id = %s", [application.pk]
        )
        return str(cursor.fetchone()[0])


def token_lifetimes(application: Application) -> list[dt.timedelta]:
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT expires_at - created_at FROM registration_emailverificationtoken "
            "WHERE application_id = %s ORDER BY created_at",
            [application.pk],
        )
        return [row[0] for row in cursor.fetchall()]


def test_the_old_resend_that_took_hash_lifetime_and_limit_from_its_caller_is_gone(live_db):
    """Attack (observed): a ten-year token with my hash for someone else's pending address."""
    victim, _ = submitted()
    with pytest.raises(DatabaseError, match="does not exist"):
        as_signup(
            "SELECT * FROM registration_issue_resend_token(%s, %s, %s, %s, %s)",
            [victim.contact_email, services.token_hash("mine"), 10 * 365 * 86400, 1, 1_000_000],
        )
    assert application_status(victim) == ApplicationStatus.SUBMITTED


def test_a_nonce_from_the_resend_function_does_not_verify_the_address(live_db):
    """Attack: ask for a token for someone's address and use what the function returned."""
    victim, _ = submitted()
    ((outcome, _language, nonce),) = as_signup(
        "SELECT * FROM registration_issue_resend_token(%s)", [victim.contact_email]
    )
    assert outcome == "sent"
    assert nonce
    for guess in (nonce, hashlib.sha256(bytes.fromhex(nonce)).hexdigest(), nonce.upper()):
        assert as_signup("SELECT registration_consume_email_token(%s)", [guess]) == [("unknown",)]
    assert application_status(victim) == ApplicationStatus.SUBMITTED


def test_the_stored_hash_is_no_link(live_db):
    """Attack: a token hash read from elsewhere (a backup, a log) is not the secret."""
    victim, token = submitted()
    stored = services.token_hash(token)
    assert as_signup("SELECT registration_consume_email_token(%s)", [stored]) == [("unknown",)]
    assert application_status(victim) == ApplicationStatus.SUBMITTED
    assert as_signup("SELECT registration_consume_email_token(%s)", [token]) == [("verified",)]


def test_the_resend_limit_and_lifetime_come_from_the_server_settings(live_db):
    """Attack: call the function as often as I like; every token lives as the owner decided."""
    victim, _ = submitted()
    with server_settings(signup_resend_limit=2, signup_token_seconds=600):
        outcomes = [
            as_signup(
                "SELECT outcome FROM registration_issue_resend_token(%s)", [victim.contact_email]
            )[0][0]
            for _ in range(4)
        ]
    assert outcomes == ["sent", "rate_limited", "rate_limited", "rate_limited"]
    assert token_lifetimes(victim) == [dt.timedelta(hours=24), dt.timedelta(minutes=10)]


def test_the_first_token_is_issued_once_per_application(live_db):
    """Attack: ask the first-token function again for an application that has its token."""
    victim, _ = submitted()
    assert as_signup("SELECT registration_issue_first_token(%s)", [victim.pk]) == [(None,)]
    assert len(token_lifetimes(victim)) == 1


def test_the_token_helper_and_the_server_settings_are_the_owners_alone(live_db):
    """Attack: call the owner's helper directly, or read the key and the limits."""
    victim, _ = submitted()
    with pytest.raises(DatabaseError, match="permission denied for function"):
        as_signup("SELECT registration_insert_email_token(%s)", [victim.pk])
    for statement in (
        "SELECT signup_token_key FROM qiro_server_settings",
        "UPDATE qiro_server_settings SET signup_resend_limit = 1000000",
    ):
        with pytest.raises(DatabaseError, match="permission denied"):
            as_signup(statement)
        with (
            tenant_context.platform_context(),
            pytest.raises(DatabaseError, match="permission denied"),
            transaction.atomic(using="platform"),
            connections["platform"].cursor() as cursor,
        ):
            cursor.execute(statement)
