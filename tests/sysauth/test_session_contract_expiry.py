"""Django's session-store contract, continued: keys, expiry, decoding, loading and saving.

The tests of Django 5.2's ``SessionTestsMixin`` under the same names, against
``sysauth.sessions.db.SessionStore`` as the runtime role in a company's
context (``test_session_contract.py`` has the first part).
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.core.signing import TimestampSigner
from django.test import override_settings
from django.utils import timezone

from sysauth.models import Session
from sysauth.sessions.db import SessionStore
from tests.sysauth.session_store import in_company, run_async, session

__all__ = ["in_company", "session"]  # fixtures, used by name


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


def expiry_after(session: SessionStore, modification: datetime) -> tuple[timedelta, int]:
    """When the session expires, counted from ``modification``: by its date, by its age."""
    date = session.get_expiry_date(modification=modification)
    return date - modification, session.get_expiry_age(modification=modification)


async def aexpiry_after(session: SessionStore, modification: datetime) -> tuple[timedelta, int]:
    date = await session.aget_expiry_date(modification=modification)
    return date - modification, await session.aget_expiry_age(modification=modification)


def test_custom_expiry_seconds(session):
    modification = timezone.now()
    session.set_expiry(10)
    assert expiry_after(session, modification) == (timedelta(seconds=10), 10)


@run_async
async def test_custom_expiry_seconds_async(session):
    modification = timezone.now()
    await session.aset_expiry(10)
    assert await aexpiry_after(session, modification) == (timedelta(seconds=10), 10)


def test_custom_expiry_timedelta(session, monkeypatch):
    modification = timezone.now()
    # set_expiry reads the clock on this path: hold it still.
    with monkeypatch.context() as frozen:
        frozen.setattr(timezone, "now", lambda: modification)
        session.set_expiry(timedelta(seconds=10))
    assert expiry_after(session, modification) == (timedelta(seconds=10), 10)


@run_async
async def test_custom_expiry_timedelta_async(session, monkeypatch):
    modification = timezone.now()
    with monkeypatch.context() as frozen:
        frozen.setattr(timezone, "now", lambda: modification)
        await session.aset_expiry(timedelta(seconds=10))
    assert await aexpiry_after(session, modification) == (timedelta(seconds=10), 10)


def test_custom_expiry_datetime(session):
    modification = timezone.now()
    session.set_expiry(modification + timedelta(seconds=10))
    assert expiry_after(session, modification) == (timedelta(seconds=10), 10)


@run_async
async def test_custom_expiry_datetime_async(session):
    modification = timezone.now()
    await session.aset_expiry(modification + timedelta(seconds=10))
    assert await aexpiry_after(session, modification) == (timedelta(seconds=10), 10)


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


def closes_with_the_browser(setting: bool) -> list[tuple[int | None, bool]]:
    """(expiry set, whether the session ends with the browser) under the setting: an expiry
    of 0 always ends it, a number of seconds never does, none follows the setting."""
    return [(10, False), (0, True), (None, setting)]


def test_get_expire_at_browser_close(session):
    for setting in (False, True):
        with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=setting):
            for expiry, closes in closes_with_the_browser(setting):
                session.set_expiry(expiry)
                assert session.get_expire_at_browser_close() is closes


@run_async
async def test_get_expire_at_browser_close_async(session):
    for setting in (False, True):
        with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=setting):
            for expiry, closes in closes_with_the_browser(setting):
                await session.aset_expiry(expiry)
                assert await session.aget_expire_at_browser_close() is closes


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
