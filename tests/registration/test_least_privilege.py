"""The anonymous sign-up's database rights, attacked as the runtime role.

The sign-up runs as the runtime role without company context. It may insert a
submitted application and call the narrow functions of
``registration.policies``; every other read or write on the registration
tables must fail, tokens included.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db import DatabaseError, connections, transaction
from psycopg import sql

from qiro import context, tenant_context
from registration import partitions, services
from registration.models import Application, ApplicationStatus
from tests.registration.factories import as_owner, submitted, unique_label, valid_brn


def as_signup(statement: str | sql.Composable, params: list[Any] | None = None):
    with (
        tenant_context.anonymous_context(),
        transaction.atomic(using="default"),
        connections["default"].cursor() as cursor,
    ):
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def test_anonymous_context_runs_as_the_runtime_role_and_restores_the_previous_one(live_db):
    with tenant_context.platform_context():
        with tenant_context.anonymous_context():
            assert tenant_context.current_alias() == "default"
            assert tenant_context.current_context() == context.NO_CONTEXT
            assert as_signup("SELECT current_user")[0][0].endswith("_app")
        assert tenant_context.current_alias() == "platform"


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM registration_application",
        "SELECT token_hash FROM registration_emailverificationtoken",
        "SELECT * FROM registration_reviewevent",
        "UPDATE registration_application SET status = 'approved'",
        "DELETE FROM registration_application",
        "DELETE FROM registration_emailverificationtoken",
        "INSERT INTO registration_reviewevent (application_id, decision, reason, created_at) "
        "VALUES (gen_random_uuid(), 'approved', '', now())",
    ],
)
def test_the_sign_up_role_cannot_read_or_change_applications(live_db, statement):
    """Attack: list other applicants, approve oneself, erase or forge review events."""
    submitted()
    with pytest.raises(DatabaseError, match="permission denied"):
        as_signup(statement)


def test_the_sign_up_role_cannot_read_a_token_partition_directly(live_db):
    """Attack: go around the parent table's policies through a partition."""
    with connections["owner"].cursor() as cursor:
        names = partitions.existing_partitions(cursor)
    assert names
    for name in names:
        with pytest.raises(DatabaseError, match="permission denied"):
            as_signup(sql.SQL("SELECT * FROM {}").format(sql.Identifier(name)))


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("status", "'approved'"),
        ("status", "'provisioned'"),
        ("email_verified_at", "now()"),
        ("rejection_reason", "'x'"),
    ],
)
def test_the_sign_up_role_cannot_insert_an_application_past_its_first_status(
    live_db, column, value
):
    """Attack: submit an application that claims to be approved or verified already."""

    def insert(**changes: str) -> str:
        columns = {
            "id": "gen_random_uuid()", "company_name": "'x'",
            "business_registration_number": f"'{valid_brn()}'", "representative_name": "'x'",
            "business_type": "'x'", "address": "'x'", "contact_email": "'x@x.kr'",
            "phone": "'010-1111-2222'", "subdomain": f"'{unique_label('forged')}'",
            "admin_full_name": "'x'", "admin_email": "'x@x.kr'", "admin_password_hash": "''",
            "language": "'ko'", "terms_accepted_at": "now()", "status": "'submitted'",
            "brn_status": "'pending'", "brn_checked_by": "''", "submitted_at": "now()",
            "rejection_reason": "''", **changes,
        }  # fmt: skip
        return "INSERT INTO registration_application ({}) VALUES ({})".format(
            ", ".join(columns), ", ".join(columns.values())
        )

    assert as_signup(insert()) == 1  # the honest row goes in: the statement itself is sound
    with pytest.raises(DatabaseError, match="row-level security"):
        as_signup(insert(**{column: value}))


@pytest.mark.parametrize(
    ("status", "used_at", "expires_at"),
    [("pending", "NULL", "now() + interval '10 years'"), ("verified", "now()", "now()")],
)
def test_the_sign_up_role_cannot_insert_a_token_of_its_choosing(
    live_db, status, used_at, expires_at
):
    """Attack: a token whose secret I know (hash chosen), valid ten years, or already used."""
    application, _ = submitted()
    with pytest.raises(DatabaseError, match="permission denied"):
        as_signup(
            "INSERT INTO registration_emailverificationtoken "
            "(id, created_at, application_id, token_hash, expires_at, used_at, status) "
            f"VALUES (%s, now(), %s, %s, {expires_at}, {used_at}, '{status}')",
            [uuid.uuid4(), application.pk, services.token_hash("known-to-me")],
        )


def test_the_availability_function_answers_only_yes_or_no(live_db):
    application, _ = submitted()
    rows = as_signup(
        "SELECT * FROM registration_availability(%s, %s, %s, %s)",
        [application.business_registration_number, "nobody-here", "nobody_here", "x"],
    )
    assert rows == [(True, False)]


def test_platform_staff_read_applications(live_db):
    application, _ = submitted()
    with tenant_context.platform_context():
        assert Application.objects.get(pk=application.pk).status == ApplicationStatus.SUBMITTED


def test_only_a_hash_of_the_token_is_stored(live_db):
    application, token = submitted()
    ((stored, lifetime),) = as_owner(
        "SELECT token_hash, expires_at - created_at FROM registration_emailverificationtoken "
        "WHERE application_id = %s",
        [application.pk],
    )
    assert stored == services.token_hash(token) != token
    assert token not in stored
    assert lifetime == dt.timedelta(hours=24)
