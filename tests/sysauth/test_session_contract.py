"""Django's session-store contract, kept by ``sysauth.sessions.db.SessionStore``.

Every test of Django 5.2's ``SessionTestsMixin`` (``tests/sessions_tests``),
under the same name, written here against our store: run as the runtime role
in a company's context, on the company's schema, under its row policy. Where
our store keeps more than Django asks (an ended session stays as a row with
its status), the test says what it checks instead. Its keys, expiry and
loading: ``test_session_contract_expiry.py``; what the database store of
Django adds and signing in as someone else: ``test_session_switch.py``.
"""

from __future__ import annotations

import pytest
from django.db import connections
from psycopg import sql

from sysauth.sessions.base import hash_session_key
from sysauth.sessions.db import SessionStore
from tests.sysauth.session_store import assert_flags, in_company, row_of, run_async, session

__all__ = ["in_company", "session"]  # fixtures, used by name


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
    assert_flags(session, accessed=True, modified=True)
    assert session.get("some key") is None


@run_async
async def test_pop_async(session):
    await session.aset("some key", "exists")
    session.accessed = session.modified = False
    assert await session.apop("some key") == "exists"
    assert_flags(session, accessed=True, modified=True)
    assert await session.aget("some key") is None


def test_pop_default(session):
    assert session.pop("some key", "does not exist") == "does not exist"
    assert_flags(session, accessed=True, modified=False)


@run_async
async def test_pop_default_async(session):
    assert await session.apop("some key", "does not exist") == "does not exist"
    assert_flags(session, accessed=True, modified=False)


def test_pop_default_named_argument(session):
    assert session.pop("some key", default="does not exist") == "does not exist"
    assert_flags(session, accessed=True, modified=False)


@run_async
async def test_pop_default_named_argument_async(session):
    assert await session.apop("some key", default="does not exist") == "does not exist"
    assert_flags(session, accessed=True, modified=False)


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
    assert_flags(session, accessed=True, modified=True)


@run_async
async def test_setdefault_async(session):
    assert await session.asetdefault("foo", "bar") == "bar"
    assert await session.asetdefault("foo", "baz") == "bar"
    assert_flags(session, accessed=True, modified=True)


def test_update(session):
    session.update({"update key": 1})
    assert_flags(session, accessed=True, modified=True)
    assert session.get("update key", None) == 1


@run_async
async def test_update_async(session):
    await session.aupdate({"update key": 1})
    assert_flags(session, accessed=True, modified=True)
    assert await session.aget("update key", None) == 1


def test_has_key(session):
    session["some key"] = 1
    session.accessed = session.modified = False
    assert "some key" in session
    assert_flags(session, accessed=True, modified=False)


@run_async
async def test_has_key_async(session):
    await session.aset("some key", 1)
    session.accessed = session.modified = False
    assert await session.ahas_key("some key") is True
    assert_flags(session, accessed=True, modified=False)


def test_values(session):
    assert list(session.values()) == []
    assert session.accessed is True
    session["some key"] = 1
    session.accessed = session.modified = False
    assert list(session.values()) == [1]
    assert_flags(session, accessed=True, modified=False)


@run_async
async def test_values_async(session):
    assert list(await session.avalues()) == []
    assert session.accessed is True
    await session.aset("some key", 1)
    session.accessed = session.modified = False
    assert list(await session.avalues()) == [1]
    assert_flags(session, accessed=True, modified=False)


def test_keys(session):
    session["x"] = 1
    session.accessed = session.modified = False
    assert list(session.keys()) == ["x"]
    assert_flags(session, accessed=True, modified=False)


@run_async
async def test_keys_async(session):
    await session.aset("x", 1)
    session.accessed = session.modified = False
    assert list(await session.akeys()) == ["x"]
    assert_flags(session, accessed=True, modified=False)


def test_items(session):
    session["x"] = 1
    session.accessed = session.modified = False
    assert list(session.items()) == [("x", 1)]
    assert_flags(session, accessed=True, modified=False)


@run_async
async def test_items_async(session):
    await session.aset("x", 1)
    session.accessed = session.modified = False
    assert list(await session.aitems()) == [("x", 1)]
    assert_flags(session, accessed=True, modified=False)


def test_clear(session):
    session["x"] = 1
    session.accessed = session.modified = False
    assert list(session.items()) == [("x", 1)]
    session.clear()
    assert list(session.items()) == []
    assert_flags(session, accessed=True, modified=True)


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
