"""The session store's test fixtures: the runtime role in a company's context, and a store."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connections

from qiro import tenant_context
from qiro.db.roles import role_name
from sysauth.models import Session
from sysauth.sessions.base import hash_session_key
from sysauth.sessions.db import SessionStore
from tests.conftest import CompanyWithUsers


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


def assert_flags(session: SessionStore, *, accessed: bool, modified: bool) -> None:
    """Django's two flags: whether the data was read, and whether it has to be saved."""
    assert session.accessed is accessed
    assert session.modified is modified
