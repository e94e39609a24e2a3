"""Django's session-store contract, kept by ``sysauth.sessions.db.SessionStore``.

Every test of Django 5.2's ``SessionTestsMixin`` (``tests/sessions_tests``),
under the same name, written here against our store: run as the runtime role
in a company's context, on the company's schema, under its row policy. Where
our store keeps more than Django asks (an ended session stays as a row with
its status), the test says what it checks instead. Then what the database
store of Django adds (``clear_expired``), and signing in as someone else
while signed in.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.core.signing import TimestampSigner
from django.db import connections
from django.test import Client, override_settings
from django.utils import timezone
from psycopg import sql

from qiro import tenant_context
from qiro.db.roles import role_name
from sysauth.models import Session, SessionStatus
from sysauth.sessions.base import hash_session_key
from sysauth.sessions.db import SessionStore
from tests.conftest import PASSWORD, CompanyWithUsers
from tests.sysauth.conftest import sign_in


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an ``async def`` test in an event loop, the way Django's test case does."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        async_to_sync(test)(*args, **kwargs)

    return wrapper


@pytest.fixture
def in_company(live_db: None, company: CompanyWithUsers) -> Iterator[CompanyWithUsers]:
    """The runtime role, in the company's context, as a request on its host runs."""
    with tenant_context.company_context(company.company):
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT current_user, current_schema()")
            assert cursor.fetchone() == (role_name("app"), company.company.schema_name)
        yield company


@pytest.fixture
def session(in_company: CompanyWithUsers) -> Iterator[SessionStore]:
    store = SessionStore()
    yield store
    store.delete()


def row_of(session_key: str | None) -> Session | None:
    if session_key is None:
        return None
    return Session.objects.filter(key_hash=hash_session_key(session_key)).first()


# --- the contract of SessionTestsMixin ------------------------------------------------


def test_store_writes_to_the_company_schema_as_the_runtime_role(in_company, session):
    """Not in Django's mixin: where the contract below runs, shown once."""
    session["cat"] = "dog"
    session.save()
    row = row_of(session.session_key)
    assert row is not None
    assert row.company_id == in_company.company.pk
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE key_hash = %s").format(
                sql.Identifier(in_company.company.schema_name, "sysauth_session")
            ),
            [hash_session_key(session.session_key)],
        )
        assert cursor.fetchone() == (1,)


def test_new_session(session):
    assert session.modified is False
    assert session.accessed is False


def test_get_empty(session):
    assert session.get("cat") is None


@run_async
async def test_get_empty_async(session):
    assert await session.aget("cat") is None


def test_store(session):
    session["cat"] = "dog"
    assert session.modified is True
    assert session.pop("cat") == "dog"


@run_async
async def test_store_async(session):
    await session.aset("cat", "dog")
    assert session.modified is True
    assert await session.apop("cat") == "dog"


def test_pop(session):
    session["some key"] = "exists"
    session.accessed = session.modified = False
    assert session.pop("some key") == "exists"
    assert session.accessed is True
    assert session.modified is True
    assert session.get("some key") is None


@run_async
async def test_pop_async(session):
    await session.aset("some key", "exists")
    session.accessed = session.modified = False
    assert await session.apop("some key") == "exists"
    assert session.accessed is True
    assert session.modified is True
    assert await session.aget("some key") is None


def test_pop_default(session):
    assert session.pop("some key", "does not exist") == "does not exist"
    assert session.accessed is True
    assert session.modified is False


@run_async
async def test_pop_default_async(session):
    assert await session.apop("some key", "does not exist") == "does not exist"
    assert session.accessed is True
    assert session.modified is False


def test_pop_default_named_argument(session):
    assert session.pop("some key", default="does not exist") == "does not exist"
    assert session.accessed is True
    assert session.modified is False


@run_async
async def test_pop_default_named_argument_async(session):
    assert await session.apop("some key", default="does not exist") == "does not exist"
    assert session.accessed is True
    assert session.modified is False


def test_pop_no_default_keyerror_raised(session):
    with pytest.raises(KeyError):
        session.pop("some key")


@run_async
async def test_pop_no_default_keyerror_raised_async(session):
    with pytest.raises(KeyError):
        await session.apop("some key")


def test_setdefault(session):
    assert session.setdefault("foo", "bar") == "bar"
    assert session.setdefault("foo", "baz") == "bar"
    assert session.accessed is True
    assert session.modified is True


@run_async
async def test_setdefault_async(session):
    assert await session.asetdefault("foo", "bar") == "bar"
    assert await session.asetdefault("foo", "baz") == "bar"
    assert session.accessed is True
    assert session.modified is True


def test_update(session):
    session.update({"update key": 1})
    assert session.accessed is True
    assert session.modified is True
    assert session.get("update key", None) == 1


@run_async
async def test_update_async(session):
    await session.aupdate({"update key": 1})
    assert session.accessed is True
    assert session.modified is True
    assert await session.aget("update key", None) == 1


def test_has_key(session):
    session["some key"] = 1
    session.accessed = session.modified = False
    assert "some key" in session
    assert session.accessed is True
    assert session.modified is False


@run_async
async def test_has_key_async(session):
    await session.aset("some key", 1)
    session.accessed = session.modified = False
    assert await session.ahas_key("some key") is True
    assert session.accessed is True
    assert session.modified is False


def test_values(session):
    assert list(session.values()) == []
    assert session.accessed is True
    session["some key"] = 1
    session.accessed = session.modified = False
    assert list(session.values()) == [1]
    assert session.accessed is True
    assert session.modified is False


@run_async
async def test_values_async(session):
    assert list(await session.avalues()) == []
    assert session.accessed is True
    await session.aset("some key", 1)
    session.accessed = session.modified = False
    assert list(await session.avalues()) == [1]
    assert session.accessed is True
    assert session.modified is False


def test_keys(session):
    session["x"] = 1
    session.accessed = session.modified = False
    assert list(session.keys()) == ["x"]
    assert session.accessed is True
    assert session.modified is False


@run_async
async def test_keys_async(session):
    await session.aset("x", 1)
    session.accessed = session.modified = False
    assert list(await session.akeys()) == ["x"]
    assert session.accessed is True
    assert session.modified is False


def test_items(session):
    session["x"] = 1
    session.accessed = session.modified = False
    assert list(session.items()) == [("x", 1)]
    assert session.accessed is True
    assert session.modified is False


@run_async
async def test_items_async(session):
    await session.aset("x", 1)
    session.accessed = session.modified = False
    assert list(await session.aitems()) == [("x", 1)]
    assert session.accessed is True
    assert session.modified is False


def test_clear(session):
    session["x"] = 1
    session.accessed = session.modified = False
    assert list(session.items()) == [("x", 1)]
    session.clear()
    assert list(session.items()) == []
    assert session.accessed is True
    assert session.modified is True


def test_save(session):
    session.save()
    assert session.exists(session.session_key) is True


@run_async
async def test_save_async(session):
    await session.asave()
    assert await session.aexists(session.session_key) is True


def test_delete(session):
    session.save()
    session.delete(session.session_key)
    assert session.exists(session.session_key) is False


@run_async
async def test_delete_async(session):
    await session.asave()
    await session.adelete(session.session_key)
    assert await session.aexists(session.session_key) is False


def test_flush(session):
    session["foo"] = "bar"
    session.save()
    prev_key = session.session_key
    session.flush()
    assert session.exists(prev_key) is False
    assert session.session_key != prev_key
    assert session.session_key is None
    assert session.modified is True
    assert session.accessed is True


@run_async
async def test_flush_async(session):
    await session.aset("foo", "bar")
    await session.asave()
    prev_key = session.session_key
    await session.aflush()
    assert await session.aexists(prev_key) is False
    assert session.session_key != prev_key
    assert session.session_key is None
    assert session.modified is True
    assert session.accessed is True


def test_cycle(session):
    session["a"], session["b"] = "c", "d"
    session.save()
    prev_key = session.session_key
    prev_data = list(session.items())
    session.cycle_key()
    assert session.exists(prev_key) is False
    assert session.session_key != prev_key
    assert list(session.items()) == prev_data


@run_async
async def test_cycle_async(session):
    await session.aset("a", "c")
    await session.aset("b", "d")
    await session.asave()
    prev_key = session.session_key
    prev_data = list(await session.aitems())
    await session.acycle_key()
    assert await session.aexists(prev_key) is False
    assert session.session_key != prev_key
    assert list(await session.aitems()) == prev_data


def test_cycle_with_no_session_cache(session):
    session["a"], session["b"] = "c", "d"
    session.save()
    prev_data = list(session.items())
    reopened = SessionStore(session.session_key)
    assert not hasattr(reopened, "_session_cache")
    reopened.cycle_key()
    assert sorted(reopened.items()) == sorted(prev_data)
    reopened.delete()


@run_async
async def test_cycle_with_no_session_cache_async(session):
    await session.aset("a", "c")
    await session.aset("b", "d")
    await session.asave()
    prev_data = list(await session.aitems())
    reopened = SessionStore(session.session_key)
    assert not hasattr(reopened, "_session_cache")
    await reopened.acycle_key()
    assert sorted(await reopened.aitems()) == sorted(prev_data)
    await reopened.adelete()


def test_save_doesnt_clear_data(session):
    session["a"] = "b"
    session.save()
    assert session["a"] == "b"


@run_async
async def test_save_doesnt_clear_data_async(session):
    await session.aset("a", "b")
    await session.asave()
    assert await session.aget("a") == "b"


def test_invalid_key(in_company):
    # A key that was guessed, or whose row is gone, is replaced by a new one.
    session = SessionStore("1")
    try:
        session.save()
        assert session.session_key != "1"
        assert session.get("cat") is None
        session.delete()
    finally:
        session.delete("1")


@run_async
async def test_invalid_key_async(in_company):
    session = SessionStore("1")
    try:
        await session.asave()
        assert session.session_key != "1"
        assert await session.aget("cat") is None
        await session.adelete()
    finally:
        await session.adelete("1")


def test_session_key_empty_string_invalid(session):
    session._session_key = ""
    assert session.session_key is None


def test_session_key_too_short_invalid(session):
    session._session_key = "1234567"
    assert session.session_key is None


def test_session_key_valid_string_saved(session):
    session._session_key = "12345678"
    assert session.session_key == "12345678"


def test_session_key_is_read_only(session):
    with pytest.raises(AttributeError):
        session.session_key = session._get_new_session_key()


def test_default_expiry(session):
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    # An idle expiry of 0 (expire at browser close) keeps the default age.
    session.set_expiry(0)
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE


@run_async
async def test_default_expiry_async(session):
    assert await session.aget_expiry_age() == settings.SESSION_COOKIE_AGE
    await session.aset_expiry(0)
    assert await session.aget_expiry_age() == settings.SESSION_COOKIE_AGE


def test_custom_expiry_seconds(session):
    modification = timezone.now()
    session.set_expiry(10)
    assert session.get_expiry_date(modification=modification) == modification + timedelta(
        seconds=10
    )
    assert session.get_expiry_age(modification=modification) == 10


@run_async
async def test_custom_expiry_seconds_async(session):
    modification = timezone.now()
    await session.aset_expiry(10)
    assert await session.aget_expiry_date(modification=modification) == modification + timedelta(
        seconds=10
    )
    assert await session.aget_expiry_age(modification=modification) == 10


def test_custom_expiry_timedelta(session, monkeypatch):
    modification = timezone.now()
    # set_expiry reads the clock on this path: hold it still.
    with monkeypatch.context() as frozen:
        frozen.setattr(timezone, "now", lambda: modification)
        session.set_expiry(timedelta(seconds=10))
    assert session.get_expiry_date(modification=modification) == modification + timedelta(
        seconds=10
    )
    assert session.get_expiry_age(modification=modification) == 10


@run_async
async def test_custom_expiry_timedelta_async(session, monkeypatch):
    modification = timezone.now()
    with monkeypatch.context() as frozen:
        frozen.setattr(timezone, "now", lambda: modification)
        await session.aset_expiry(timedelta(seconds=10))
    assert await session.aget_expiry_date(modification=modification) == modification + timedelta(
        seconds=10
    )
    assert await session.aget_expiry_age(modification=modification) == 10


def test_custom_expiry_datetime(session):
    modification = timezone.now()
    session.set_expiry(modification + timedelta(seconds=10))
    assert session.get_expiry_date(modification=modification) == modification + timedelta(
        seconds=10
    )
    assert session.get_expiry_age(modification=modification) == 10


@run_async
async def test_custom_expiry_datetime_async(session):
    modification = timezone.now()
    await session.aset_expiry(modification + timedelta(seconds=10))
    assert await session.aget_expiry_date(modification=modification) == modification + timedelta(
        seconds=10
    )
    assert await session.aget_expiry_age(modification=modification) == 10


def test_custom_expiry_reset(session):
    session.set_expiry(None)
    session.set_expiry(10)
    session.set_expiry(None)
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE


@run_async
async def test_custom_expiry_reset_async(session):
    await session.aset_expiry(None)
    await session.aset_expiry(10)
    await session.aset_expiry(None)
    assert await session.aget_expiry_age() == settings.SESSION_COOKIE_AGE


def test_get_expire_at_browser_close(session):
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=False):
        session.set_expiry(10)
        assert session.get_expire_at_browser_close() is False
        session.set_expiry(0)
        assert session.get_expire_at_browser_close() is True
        session.set_expiry(None)
        assert session.get_expire_at_browser_close() is False
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True):
        session.set_expiry(10)
        assert session.get_expire_at_browser_close() is False
        session.set_expiry(0)
        assert session.get_expire_at_browser_close() is True
        session.set_expiry(None)
        assert session.get_expire_at_browser_close() is True


@run_async
async def test_get_expire_at_browser_close_async(session):
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=False):
        await session.aset_expiry(10)
        assert await session.aget_expire_at_browser_close() is False
        await session.aset_expiry(0)
        assert await session.aget_expire_at_browser_close() is True
        await session.aset_expiry(None)
        assert await session.aget_expire_at_browser_close() is False
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True):
        await session.aset_expiry(10)
        assert await session.aget_expire_at_browser_close() is False
        await session.aset_expiry(0)
        assert await session.aget_expire_at_browser_close() is True
        await session.aset_expiry(None)
        assert await session.aget_expire_at_browser_close() is True


def test_decode(session):
    data = {"a test key": "a test value"}
    assert session.decode(session.encode(data)) == data


@pytest.mark.parametrize(
    "encoded", [base64.b64encode(b"flaskdj:alkdjf").decode("ascii"), "bad:encoded:value"]
)
def test_decode_failure_logged_to_security(session, caplog, encoded):
    with caplog.at_level("WARNING", logger="django.security.SuspiciousSession"):
        assert session.decode(encoded) == {}
    logged = [r for r in caplog.records if r.name == "django.security.SuspiciousSession"]
    assert logged
    assert "Session data corrupted" in logged[0].getMessage()


def test_decode_serializer_exception(session):
    encoded = TimestampSigner(salt=session.key_salt).sign("invalid data")
    assert session.decode(encoded) == {}


def test_actual_expiry(session):
    session["foo"] = "bar"
    session.set_expiry(-timedelta(seconds=10))
    session.save()
    old_key = session.session_key
    # With an expiry date in the past, the session expires at once.
    reopened = SessionStore(old_key)
    assert "foo" not in reopened
    assert reopened.session_key is None
    assert session.exists(old_key) is False


@run_async
async def test_actual_expiry_async(session):
    await session.aset("foo", "bar")
    await session.aset_expiry(-timedelta(seconds=10))
    await session.asave()
    old_key = session.session_key
    reopened = SessionStore(old_key)
    assert await reopened.ahas_key("foo") is False
    assert await session.aexists(old_key) is False


def test_session_load_does_not_create_record(in_company):
    """Loading an unknown key writes nothing: rows made on load would be a DoS."""
    before = Session.objects.count()
    session = SessionStore("someunknownkey")
    session.load()
    assert session.session_key is None
    assert session.exists(session.session_key) is False
    assert session.session_key != "someunknownkey"
    assert Session.objects.count() == before


@run_async
async def test_session_load_does_not_create_record_async(in_company):
    session = SessionStore("someunknownkey")
    await session.aload()
    assert session.session_key is None
    assert await session.aexists(session.session_key) is False  # type: ignore[arg-type]
    assert session.session_key != "someunknownkey"


def test_session_save_does_not_resurrect_session_logged_out_in_other_context(in_company):
    """A request still holding a session signed out by another does not bring it back."""
    s1 = SessionStore()
    s1["test_data"] = "value1"
    s1.save(must_create=True)
    s2 = SessionStore(s1.session_key)
    s2.delete()
    s1["test_data"] = "value2"
    with pytest.raises(UpdateError):
        s1.save()
    assert s1.load() == {}


@run_async
async def test_session_asave_does_not_resurrect_session_logged_out_in_other_context(in_company):
    s1 = SessionStore()
    await s1.aset("test_data", "value1")
    await s1.asave(must_create=True)
    s2 = SessionStore(s1.session_key)
    await s2.adelete()
    await s1.aset("test_data", "value2")
    with pytest.raises(UpdateError):
        await s1.asave()
    assert await s1.aload() == {}


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


def _plant(client: Client, company: CompanyWithUsers) -> None:
    """Leave something in the signed-in session, to see whether it is carried over."""
    key = _cookie(client)
    with tenant_context.company_context(company.company):
        store = SessionStore(key)
        store["note"] = "left by the first user"
        store.save()


def test_company_sign_in_as_another_user_switches_to_a_new_session(live_db, company):
    client = Client()
    sign_in(client, company.host, company.member.email)
    _plant(client, company)
    old_key = _cookie(client)
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
    client = Client()
    sign_in(client, company.host, company.member.email)
    _plant(client, company)
    old_key = _cookie(client)
    # A member has no company admin: the admin's sign-in page says who is signed in.
    page = client.get("/admin/login/?next=/admin/", HTTP_HOST=company.host)
    assert page.status_code == 200
    assert company.member.email in page.content.decode()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": company.owner.email, "password": PASSWORD},
        HTTP_HOST=company.host,
    )
    assert response.status_code == 302, response.content.decode()[:800]
    _assert_switched(client, company, old_key, company.owner)
    assert client.get("/admin/", HTTP_HOST=company.host).status_code == 200
