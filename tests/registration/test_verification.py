"""E-mail verification: single use, 24 hours, clear pages, rate-limited resend, partitions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connections
from django.test import Client

from registration import partitions, services
from registration.models import Application, ApplicationStatus
from tests.registration.factories import (
    expire_token,
    link_token,
    page_text,
    server_settings,
    submitted,
)


def confirm(token: str):
    return Client().post(
        f"/signup/verify/{token}/", HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en"
    )


def status_of(application: Application) -> str:
    return Application.objects.using("owner").get(pk=application.pk).status


def test_opening_the_link_does_not_use_it_the_button_does(live_db):
    application, token = submitted()
    page = Client().get(f"/signup/verify/{token}/", HTTP_HOST="localhost")
    assert page.status_code == 200
    assert status_of(application) == ApplicationStatus.SUBMITTED
    response = confirm(token)
    assert response.status_code == 200
    assert "confirmed" in response.content.decode()
    assert status_of(application) == ApplicationStatus.EMAIL_VERIFIED


def test_a_used_link_gets_a_clear_page(live_db):
    _, token = submitted()
    confirm(token)
    assert "already used" in page_text(confirm(token), 410)


def test_an_expired_link_gets_a_clear_page_and_does_not_verify(live_db):
    application, token = submitted()
    expire_token(application)
    assert "expired" in page_text(confirm(token), 410)
    assert status_of(application) == ApplicationStatus.SUBMITTED
    assert confirm(token).status_code == 410


@pytest.mark.parametrize("token", ["nonsense", "a" * 43, "%2E%2E"])
def test_an_unknown_link_gets_a_clear_page_never_a_traceback(live_db, token):
    assert "do not know this link" in page_text(confirm(token), 404)


def resend(email: str):
    return Client().post(
        "/signup/resend/", {"email": email}, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en"
    )


def test_resend_mails_a_new_working_link_and_is_rate_limited(live_db):
    with server_settings(signup_resend_limit=3):  # the owner's limit, not the caller's
        application, first = submitted()
        sent_before = len(mail.outbox)
        assert resend(application.contact_email.upper()).status_code == 200
        assert len(mail.outbox) == sent_before + 1
        second = link_token(mail.outbox[-1].body)
        assert second != first
        assert resend(application.contact_email).status_code == 200  # third token in the hour
        limited = resend(application.contact_email)
        assert limited.status_code == 429
        assert "Too many" in limited.content.decode()
        assert len(mail.outbox) == sent_before + 2
        assert confirm(second).status_code == 200
        assert status_of(application) == ApplicationStatus.EMAIL_VERIFIED


def test_resend_does_not_tell_whether_an_address_applied(live_db):
    sent_before = len(mail.outbox)
    unknown = resend("nobody@nowhere.example.kr")
    assert unknown.status_code == 200
    assert "If an application awaits verification" in unknown.content.decode()
    assert len(mail.outbox) == sent_before


def test_partitions_are_made_ahead_and_old_ones_dropped(live_db):
    today = dt.date(2031, 5, 17)
    made = partitions.maintain_token_partitions(months_ahead=2, retention_months=1, today=today)
    assert made.created == [
        "registration_emailverificationtoken_p2031_05",
        "registration_emailverificationtoken_p2031_06",
        "registration_emailverificationtoken_p2031_07",
    ]
    later = partitions.maintain_token_partitions(
        months_ahead=0, retention_months=1, today=dt.date(2031, 8, 2)
    )
    assert "registration_emailverificationtoken_p2031_05" in later.dropped
    assert "registration_emailverificationtoken_p2031_06" in later.dropped
    with connections["owner"].cursor() as cursor:
        names = partitions.existing_partitions(cursor)
    assert "registration_emailverificationtoken_p2031_07" in names
    assert "registration_emailverificationtoken_p2031_05" not in names
    # tidy: the test's far-future partitions go again
    with connections["owner"].cursor() as cursor:
        for name in names:
            if name.startswith("registration_emailverificationtoken_p2031"):
                cursor.execute(f'DROP TABLE "{name}"')


def test_the_maintenance_command_is_idempotent_and_keeps_the_current_month(live_db):
    call_command("maintain_token_partitions", verbosity=0)
    call_command("maintain_token_partitions", verbosity=0)
    _, token = submitted()  # a token of today still finds its partition
    assert services.verify_email(token=token) == "verified"


@pytest.mark.parametrize("token", ["abc%00def", "x" * 5000, "%ED%95%9C%EA%B8%80"])
def test_a_malformed_link_gets_the_unknown_page_not_an_error(live_db, token):
    assert confirm(token).status_code == 404
