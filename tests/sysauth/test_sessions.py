"""Sessions in the company's schema: revoked, expired, suspended and foreign ones are refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone

from qiro import tenant_context
from sysauth import actions
from sysauth.middleware import client_ip
from sysauth.models import Session, SessionStatus
from sysauth.sessions.base import hash_session_key
from tenants.models import Company
from tests.conftest import PASSWORD, admin_sign_in
from tests.sysauth.conftest import new_company, sign_in


def session_row(client: Client, company) -> Session:
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    with tenant_context.company_context(company.company):
        return Session.objects.get(key_hash=hash_session_key(key))


def expired_member_session(company, ago: timedelta) -> tuple[Client, Session]:
    """A client signed in as the member, whose session expired ``ago``: the client and the row."""
    client = Client()
    sign_in(client, company.host, company.member.email)
    row = session_row(client, company)
    with tenant_context.company_context(company.company):
        Session.objects.filter(pk=row.pk).update(expires_at=timezone.now() - ago)
    return client, row


def signed_in(client: Client, host: str) -> bool:
    return client.get("/accounts/sessions/", HTTP_HOST=host).status_code == 200


def test_sign_in_stores_the_session_in_the_company_schema(live_db, company):
    client = Client(HTTP_USER_AGENT="Firefox/140 on Linux", REMOTE_ADDR="203.0.113.9")
    sign_in(client, company.host, company.member.email)
    row = session_row(client, company)
    assert row.user_id == company.member.pk
    assert row.status == SessionStatus.ACTIVE
    assert row.company_id == company.company.pk
    assert row.ip_address == "203.0.113.9"
    assert row.user_agent == "Firefox/140 on Linux"
    assert row.key_hash != client.cookies[settings.SESSION_COOKIE_NAME].value
    assert signed_in(client, company.host)


def test_revoked_session_is_signed_out_on_its_next_request(live_db, company):
    client = Client()
    sign_in(client, company.host, company.member.email)
    assert signed_in(client, company.host)
    with tenant_context.company_context(company.company):
        assert actions.revoke_session(
            session=session_row(client, company), reason="test", acting_user=company.owner
        )
    response = client.get("/accounts/sessions/", HTTP_HOST=company.host, follow=True)
    assert response.redirect_chain[0][0].startswith("/accounts/login/")
    assert "ended by an administrator" in response.content.decode() or "관리자" in (
        response.content.decode()
    )
    assert not signed_in(client, company.host)


def test_expired_session_is_refused_and_marked_expired(live_db, company):
    client, row = expired_member_session(company, timedelta(seconds=1))
    assert not signed_in(client, company.host)
    with tenant_context.company_context(company.company):
        assert Session.objects.get(pk=row.pk).status == SessionStatus.EXPIRED


def test_deactivated_user_is_signed_out(live_db, company):
    with tenant_context.company_context(company.company):
        user = type(company.member).objects.create_user("leaver@example.kr", PASSWORD)
    client = Client()
    sign_in(client, company.host, user.email)
    with tenant_context.company_context(company.company):
        assert actions.deactivate_user(user=user, acting_user=company.owner) == 1
    assert not signed_in(client, company.host)
    with pytest.raises(AssertionError):
        sign_in(client, company.host, user.email)


def test_suspended_company_sessions_are_revoked_and_refused(live_db):
    suspended = new_company("ss")
    client = Client()
    sign_in(client, suspended.host, suspended.member.email)
    with tenant_context.company_context(suspended.company):
        assert actions.revoke_company_sessions(reason="company suspended", acting_user=None) == 1
    Company.objects.using("owner").filter(pk=suspended.company.pk).update(
        status=Company.Status.SUSPENDED
    )
    assert client.get("/accounts/sessions/", HTTP_HOST=suspended.host).status_code == 403
    # Reinstated, the company's old sessions stay ended.
    Company.objects.using("owner").filter(pk=suspended.company.pk).update(
        status=Company.Status.ACTIVE
    )
    assert not signed_in(client, suspended.host)


def test_revoke_company_sessions_needs_a_company_context(live_db):
    with pytest.raises(RuntimeError):
        actions.revoke_company_sessions(reason="no context", acting_user=None)


def test_session_of_a_is_refused_on_b_host(live_db, company, other_company):
    """Attack: replay company A's session cookie on company B's host."""
    client = Client()
    sign_in(client, company.host, company.owner.email)
    assert signed_in(client, company.host)
    row = session_row(client, company)
    response = client.get("/accounts/sessions/", HTTP_HOST=other_company.host)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    response = client.get("/admin/", HTTP_HOST=other_company.host, follow=True)
    assert other_company.member.email not in response.content.decode()
    # B's host did not touch A's session: the cookie simply means nothing there.
    with tenant_context.company_context(company.company):
        assert Session.objects.get(pk=row.pk).status == SessionStatus.ACTIVE


def test_user_of_a_cannot_sign_in_on_b_host(live_db, company, other_company):
    response = Client().post(
        "/accounts/login/",
        {"username": company.owner.email, "password": PASSWORD},
        HTTP_HOST=other_company.host,
    )
    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert response.context["form"].errors


def test_last_seen_is_written_at_most_once_a_minute(live_db, company):
    client = Client()
    sign_in(client, company.host, company.member.email)
    row = session_row(client, company)
    assert signed_in(client, company.host)
    assert session_row(client, company).last_seen_at == row.last_seen_at
    old = timezone.now() - timedelta(minutes=2)
    with tenant_context.company_context(company.company):
        Session.objects.filter(pk=row.pk).update(last_seen_at=old)
    assert signed_in(client, company.host)
    assert session_row(client, company).last_seen_at > old + timedelta(minutes=1)


def test_logout_ends_the_session_as_logged_out(live_db, company):
    client = Client()
    sign_in(client, company.host, company.member.email)
    row = session_row(client, company)
    assert client.get("/accounts/logout/", HTTP_HOST=company.host).status_code == 405
    response = client.post("/accounts/logout/", HTTP_HOST=company.host)
    assert response.status_code == 302
    with tenant_context.company_context(company.company):
        assert Session.objects.get(pk=row.pk).status == SessionStatus.LOGGED_OUT
    assert not signed_in(client, company.host)


def test_my_sessions_lists_them_and_signs_out_one_or_all_others(live_db, company):
    with tenant_context.company_context(company.company):
        user = type(company.member).objects.create_user("many@example.kr", PASSWORD)
    phone, laptop, tablet = (Client(HTTP_USER_AGENT=ua) for ua in ("Phone", "Laptop", "Tablet"))
    for client in (phone, laptop, tablet):
        sign_in(client, company.host, user.email)
    page = laptop.get("/accounts/sessions/", HTTP_HOST=company.host).content.decode()
    assert "Phone" in page
    assert "Tablet" in page
    assert "Laptop" in page
    phone_row = session_row(phone, company)
    response = laptop.post(f"/accounts/sessions/{phone_row.pk}/sign-out/", HTTP_HOST=company.host)
    assert response.status_code == 302
    assert not signed_in(phone, company.host)
    assert signed_in(tablet, company.host)
    laptop.post("/accounts/sessions/sign-out-others/", HTTP_HOST=company.host)
    assert not signed_in(tablet, company.host)
    assert signed_in(laptop, company.host)


def test_cannot_sign_out_another_users_session(live_db, company):
    victim, attacker = Client(), Client()
    sign_in(victim, company.host, company.owner.email)
    sign_in(attacker, company.host, company.member.email)
    row = session_row(victim, company)
    attacker.post(f"/accounts/sessions/{row.pk}/sign-out/", HTTP_HOST=company.host)
    assert signed_in(victim, company.host)


def test_password_change_signs_out_the_other_sessions(live_db, company):
    with tenant_context.company_context(company.company):
        user = type(company.member).objects.create_user("changer@example.kr", PASSWORD)
    here, elsewhere = Client(), Client()
    sign_in(here, company.host, user.email)
    sign_in(elsewhere, company.host, user.email)
    response = here.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-passphrase-77",
            "new_password2": "another-long-passphrase-77",
        },
        HTTP_HOST=company.host,
    )
    assert response.status_code == 302, response.content.decode()[:800]
    assert signed_in(here, company.host)
    assert not signed_in(elsewhere, company.host)


def test_password_reset_by_email_ends_every_session(live_db, company, mailoutbox):
    with tenant_context.company_context(company.company):
        user = type(company.member).objects.create_user("forgot@example.kr", PASSWORD)
    old_browser = Client()
    sign_in(old_browser, company.host, user.email)
    client = Client()
    client.post("/accounts/password/reset/", {"email": user.email}, HTTP_HOST=company.host)
    assert len(mailoutbox) == 1
    link = next(line for line in mailoutbox[0].body.splitlines() if "/password/reset/" in line)
    path = link.split(company.host, 1)[1]
    response = client.get(path, HTTP_HOST=company.host)
    assert response.status_code == 302  # to the set-password URL, token moved to the session
    new_password = "brand-new-passphrase-99"
    response = client.post(
        response["Location"],
        {"new_password1": new_password, "new_password2": new_password},
        HTTP_HOST=company.host,
    )
    assert response.status_code == 302, response.content.decode()[:800]
    assert not signed_in(old_browser, company.host)
    sign_in(Client(), company.host, user.email, new_password)


@override_settings(QIRO_TRUSTED_PROXIES=["10.0.0.1"])
def test_forwarded_for_is_believed_only_from_a_trusted_proxy():
    factory = RequestFactory()
    spoofed = factory.get("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(spoofed) == "198.51.100.7"
    proxied = factory.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 5.6.7.8")
    assert client_ip(proxied) == "5.6.7.8"  # the hop the trusted proxy saw
    broken = factory.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert client_ip(broken) == "10.0.0.1"


def test_expire_sessions_command_cleans_every_company(live_db, company):
    from django.core.management import call_command

    _, row = expired_member_session(company, timedelta(hours=1))
    call_command("expire_sessions", verbosity=0)
    with tenant_context.company_context(company.company):
        assert Session.objects.get(pk=row.pk).status == SessionStatus.EXPIRED
        Session.objects.filter(pk=row.pk).update(ended_at=timezone.now() - timedelta(days=31))
    call_command("expire_sessions", verbosity=0)
    with tenant_context.company_context(company.company):
        assert not Session.objects.filter(pk=row.pk).exists()


def test_platform_staff_sessions_live_in_the_public_schema(live_db):
    from sysauth.models import User

    staff = User.objects.db_manager("owner").create_superuser("staff-sa@localhost", PASSWORD)
    client = Client()
    response = admin_sign_in(client, "localhost", staff.email)
    assert response.status_code == 302, response.content.decode()[:800]
    assert client.get("/admin/", HTTP_HOST="localhost").status_code == 200
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    row = Session.objects.using("owner").get(key_hash=hash_session_key(key))
    assert row.company_id is None
    assert row.user_id == staff.pk


@override_settings(QIRO_LOGIN_FAILURES_PER_ACCOUNT=2)
def test_platform_admin_sign_in_is_throttled_in_the_public_schema(live_db):
    from sysauth.models import LoginFailure, User

    staff = User.objects.db_manager("owner").create_superuser("staff-throttle@localhost", PASSWORD)
    client = Client()
    for _ in range(2):
        client.post(
            "/admin/login/", {"username": staff.email, "password": "no"}, HTTP_HOST="localhost"
        )
    response = client.post(
        "/admin/login/", {"username": staff.email, "password": PASSWORD}, HTTP_HOST="localhost"
    )
    assert response.status_code == 200
    assert response.context["form"].errors.as_data()["__all__"][0].code == "throttled"
    failures = LoginFailure.objects.using("owner").filter(email=staff.email)
    assert {f.company_id for f in failures} == {None}
