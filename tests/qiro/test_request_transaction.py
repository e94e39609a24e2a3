"""On Citus a company's read request runs in one transaction; elsewhere nothing changes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connections
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from qiro import tenant_context
from qiro.request_transaction import one_transaction
from sysauth.models import Session
from tests.conftest import PASSWORD


def on_citus() -> bool:
    connection = connections["default"]
    connection.ensure_connection()
    return bool(getattr(connection, "context_apart", False))


@pytest.fixture
def signed_in(live_db, two_companies) -> Client:
    a, _ = two_companies
    client = Client(HTTP_HOST=a.host)
    answer = client.post("/accounts/login/", {"username": a.owner.email, "password": PASSWORD})
    assert answer.status_code == 302
    return client


def statements_of(client: Client, method: str, url: str) -> list[str]:
    with CaptureQueriesContext(connections["default"]) as captured:
        response = getattr(client, method)(url)
    assert response.status_code in (200, 302), response.status_code
    return [q["sql"] for q in captured.captured_queries]


def test_a_company_page_runs_in_one_transaction_on_citus_only(signed_in):
    sent = statements_of(signed_in, "get", "/")
    # the host lookup comes first, outside; the rest of the request inside one transaction
    assert "qiro_resolve_host" in sent[0]
    if on_citus():
        assert sent[1] == "BEGIN"
        assert sent[-1] == "COMMIT"
        assert sent.count("BEGIN") == 1
    else:
        assert "BEGIN" not in sent


def test_what_a_read_request_writes_is_committed(signed_in, two_companies):
    """The session's touch is written inside the request's transaction, and is there after."""
    a, _ = two_companies
    long_ago = timezone.now() - dt.timedelta(hours=1)
    owner = connections["owner"]
    owner.set_schema(a.company.schema_name)  # type: ignore[attr-defined]
    try:
        mine = Session.objects.using("owner").filter(user_id=a.owner.pk, status="active")
        assert mine.update(last_seen_at=long_ago) >= 1
        assert signed_in.get("/").status_code == 200
        assert max(mine.values_list("last_seen_at", flat=True)) > long_ago
    finally:
        owner.set_schema_to_public()  # type: ignore[attr-defined]


def test_only_a_company_read_on_citus_is_wrapped(live_db, two_companies):
    a, _ = two_companies
    factory = RequestFactory()
    with tenant_context.company_context(a.company):
        assert one_transaction(factory.get("/")) == on_citus()
        assert one_transaction(factory.head("/")) == on_citus()
        assert not one_transaction(factory.post("/"))
    with tenant_context.platform_context():
        assert not one_transaction(factory.get("/"))
