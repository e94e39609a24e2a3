"""What Django's database session store adds (``clear_expired``), and signing in as
someone else while signed in: a new session, never the old one taken over.
"""

from __future__ import annotations

from django.conf import settings
from django.test import Client

from qiro import tenant_context
from sysauth.models import Session, SessionStatus
from sysauth.sessions.base import hash_session_key
from sysauth.sessions.db import SessionStore
from tests.conftest import CompanyWithUsers, admin_sign_in
from tests.sysauth.conftest import sign_in
from tests.sysauth.session_store import in_company, row_of, run_async, session

__all__ = ["in_company", "session"]  # fixtures, used by name


# --- what Django's database store adds -----------------------------------------------


def test_exists_is_false_for_no_key_and_for_an_ended_session(session, in_company):
    assert session.exists(None) is False
    assert session.exists("") is False
    session["x"] = 1
    session.save()
    key = session.session_key
    Session.objects.filter(key_hash=hash_session_key(key)).update(
        user=in_company.member, status=SessionStatus.REVOKED
    )
    assert session.exists(key) is False


def test_clear_expired(in_company):
    """Like ``clearsessions``: the expired anonymous session goes, the live one stays."""
    live, expired = SessionStore(), SessionStore()
    live["foo"] = "bar"
    live.set_expiry(3600)
    live.save()
    expired["foo"] = "bar"
    expired.set_expiry(-3600)
    expired.save()
    assert row_of(expired.session_key) is not None
    SessionStore.clear_expired()
    assert row_of(expired.session_key) is None
    assert live.exists(live.session_key) is True
    live.delete()


@run_async
async def test_aclear_expired(in_company):
    live, expired = SessionStore(), SessionStore()
    await live.aset("key", "value")
    await live.aset_expiry(3600)
    await live.asave()
    await expired.aset("key", "value")
    await expired.aset_expiry(-3600)
    await expired.asave()
    await SessionStore.aclear_expired()
    assert await expired.aexists(expired.session_key) is False  # type: ignore[arg-type]
    assert await live.aexists(live.session_key) is True  # type: ignore[arg-type]
    await live.adelete()


# --- signing in as someone else while signed in ------------------------------------


def _cookie(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _row_by_cookie(company: CompanyWithUsers, key: str) -> Session:
    with tenant_context.company_context(company.company):
        return Session.objects.get(key_hash=hash_session_key(key))


def _whoami(client: Client, company: CompanyWithUsers) -> int | None:
    """The user the client's session belongs to now (read as the runtime role)."""
    response = client.get("/accounts/sessions/", HTTP_HOST=company.host)
    return response.wsgi_request.user.pk if response.status_code == 200 else None


def _assert_switched(client: Client, company: CompanyWithUsers, old_key: str, new_user) -> None:
    new_key = _cookie(client)
    assert new_key != old_key, "signing in as another user must issue a new session key"
    old_row, new_row = _row_by_cookie(company, old_key), _row_by_cookie(company, new_key)
    assert old_row.status == SessionStatus.LOGGED_OUT
    assert new_row.status == SessionStatus.ACTIVE
    assert new_row.user_id == new_user.pk
    assert _whoami(client, company) == new_user.pk
    # The first user's data is not carried into the second user's session.
    assert "left by the first user" not in SessionStore().decode(new_row.session_data).values()
    # The old cookie means nothing any more.
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_key
    assert _whoami(replay, company) is None


def _member_with_a_note(company: CompanyWithUsers) -> tuple[Client, str]:
    """A client signed in as the member, a note left in its session: the client and its key."""
    client = Client()
    sign_in(client, company.host, company.member.email)
    key = _cookie(client)
    with tenant_context.company_context(company.company):
        store = SessionStore(key)
        store["note"] = "left by the first user"
        store.save()
    return client, key


def test_company_sign_in_as_another_user_switches_to_a_new_session(live_db, company):
    client, old_key = _member_with_a_note(company)
    page = client.get("/accounts/login/", HTTP_HOST=company.host)
    # The form is shown, and says that the current user will be signed out first.
    assert page.status_code == 200
    assert company.member.email in page.content.decode()
    sign_in(client, company.host, company.owner.email)
    _assert_switched(client, company, old_key, company.owner)


def test_company_sign_in_again_as_the_same_user_keeps_the_session(live_db, company):
    """As Django's ``login``: the session already is this user's, nothing to fix."""
    client = Client()
    sign_in(client, company.host, company.member.email)
    old_key = _cookie(client)
    sign_in(client, company.host, company.member.email)
    assert _cookie(client) == old_key
    assert _row_by_cookie(company, old_key).status == SessionStatus.ACTIVE
    assert _whoami(client, company) == company.member.pk


def test_anonymous_session_gets_a_new_key_at_sign_in(live_db, company):
    """Session fixation: a key handed out before sign-in is not the signed-in one."""
    client = Client()
    client.get("/accounts/login/", HTTP_HOST=company.host)
    with tenant_context.company_context(company.company):
        planted = SessionStore()
        planted["lang"] = "ko"
        planted.save()
    assert planted.session_key is not None
    client.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key
    sign_in(client, company.host, company.member.email)
    assert _cookie(client) != planted.session_key
    with tenant_context.company_context(company.company):
        assert planted.exists(planted.session_key) is False


def test_company_admin_sign_in_as_another_user_switches_to_a_new_session(live_db, company):
    client, old_key = _member_with_a_note(company)
    # A member has no company admin: the admin's sign-in page says who is signed in.
    page = client.get("/admin/login/?next=/admin/", HTTP_HOST=company.host)
    assert page.status_code == 200
    assert company.member.email in page.content.decode()
    response = admin_sign_in(client, company.host, company.owner.email)
    assert response.status_code == 302, response.content.decode()[:800]
    _assert_switched(client, company, old_key, company.owner)
    assert client.get("/admin/", HTTP_HOST=company.host).status_code == 200
