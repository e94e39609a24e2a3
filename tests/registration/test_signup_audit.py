"""The anonymous sign-up's steps in the audit log: one row per step that changed something.

Submitted, e-mail verified, link sent again: each row written by the database
function that makes the change, in its transaction, as the runtime role's
anonymous context asks. A step that changes nothing (a used link, a refused
resend) writes none, and the runtime role cannot write such a row itself.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connections, transaction
from django.utils import translation

from qiro import tenant_context
from registration import services
from sysauth.models import AuditEntry
from sysauth.models_audit import AuditAction
from tests.registration.factories import link_token, server_settings, submitted

VERIFY_URL = "http://localhost/signup/verify/{}/".format


def rows_of(application) -> list[AuditEntry]:
    with tenant_context.platform_context():
        return list(
            AuditEntry.objects.filter(
                target_type="registration.application", target_id=str(application.pk)
            ).order_by("id")
        )


def test_each_step_writes_one_row_saying_what_changed(live_db, mailoutbox):
    application, token = submitted()
    (row,) = rows_of(application)
    assert row.action == AuditAction.APPLICATION_SUBMIT
    assert (row.acting_user_id, row.acting_email, row.company_id) == (None, "", None)
    assert row.details == {"status": {"old": None, "new": "submitted"}}
    assert application.company_name in row.target_label

    sent = services.resend_verification(email=application.contact_email, verify_url=VERIFY_URL)
    assert sent == "sent"
    resend = rows_of(application)[-1]
    assert resend.action == AuditAction.APPLICATION_RESEND
    assert resend.details == {"links_in_window": {"old": 1, "new": 2}}

    assert services.verify_email(token=token) == "verified"
    rows = rows_of(application)
    assert [r.action for r in rows] == [
        AuditAction.APPLICATION_SUBMIT,
        AuditAction.APPLICATION_RESEND,
        AuditAction.APPLICATION_VERIFY_EMAIL,
    ]
    assert rows[-1].details == {"status": {"old": "submitted", "new": "email_verified"}}
    with translation.override("en"):
        assert str(rows[-1].action_label) == "Applicant's e-mail address verified"


def test_a_step_that_changes_nothing_writes_no_row(live_db, mailoutbox):
    application, token = submitted()
    assert services.verify_email(token=token) == "verified"
    before = len(rows_of(application))
    assert services.verify_email(token=token) == "used"
    assert services.verify_email(token="no-such-link") == "unknown"
    # Verified: no longer awaiting a link, so a resend finds nothing to send.
    outcome = services.resend_verification(email=application.contact_email, verify_url=VERIFY_URL)
    assert outcome == "unknown"
    assert len(rows_of(application)) == before


def test_a_refused_resend_writes_no_row(live_db, mailoutbox):
    """Links are sent again up to the server's limit; the refused one leaves no row."""
    application, _token = submitted()
    for _attempt in range(20):
        before = len(rows_of(application))
        outcome = services.resend_verification(
            email=application.contact_email, verify_url=VERIFY_URL
        )
        if outcome == "rate_limited":
            break
        assert outcome == "sent"
        assert len(rows_of(application)) == before + 1
    else:
        pytest.fail("never rate limited")
    assert len(rows_of(application)) == before
    assert rows_of(application)[-1].action == AuditAction.APPLICATION_RESEND


def test_a_resend_still_mails_a_new_link(live_db, mailoutbox):
    application, _token = submitted()
    assert len(mailoutbox) == 1
    with server_settings(signup_resend_limit=10):
        services.resend_verification(email=application.contact_email, verify_url=VERIFY_URL)
    assert len(mailoutbox) == 2
    assert link_token(mailoutbox[1].body)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT registration_record_signup_step('application.submit', gen_random_uuid(), '{}')",
        "INSERT INTO public.sysauth_auditentry (action, outcome, details, acting_email, "
        "target_type, target_id, target_label) "
        "VALUES ('application.submit', 'done', '{}', '', '', '', '')",
    ],
)
def test_the_runtime_role_cannot_write_a_sign_up_row_itself(live_db, statement):
    with tenant_context.anonymous_context():
        runtime = tenant_context.current_alias()
        with (
            pytest.raises(DatabaseError),
            transaction.atomic(using=runtime),
            connections[runtime].cursor() as cursor,
        ):
            cursor.execute(statement)
