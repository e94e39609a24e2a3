"""Isolation through HTTP: host routing, reused connections and stolen cookies."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test import Client

from tests.conftest import admin_sign_in


def backend_pid() -> int:
    return connections["default"].connection.info.backend_pid


def session_settings() -> tuple[str, str]:
    """What the reused connection carries between requests (read without our prefix)."""
    row = (
        connections["default"]
        .connection.execute(
            "SELECT current_setting('qiro.company_id', true), current_setting('search_path')"
        )
        .fetchone()
    )
    assert row is not None
    return row


def login(client: Client, host: str, email: str) -> None:
    response = admin_sign_in(client, host, email)
    assert response.status_code == 302, response.content.decode()[:500]


def each_shows_only_its_own(a: tuple[str, str], b: tuple[str, str]) -> None:
    """(page, text) of A and of B: each page holds its own company's text, not the other's."""
    (page_a, text_a), (page_b, text_b) = a, b
    assert text_a in page_a
    assert text_b not in page_a
    assert text_b in page_b
    assert text_a not in page_b


def test_each_company_host_shows_only_its_company(live_db, two_companies):
    a, b = two_companies
    client = Client()
    page_a = client.get("/", HTTP_HOST=a.host).content.decode()
    page_b = client.get("/", HTTP_HOST=b.host).content.decode()
    each_shows_only_its_own((page_a, a.company.name), (page_b, b.company.name))


def test_reused_connection_carries_no_context_from_a_into_b(live_db, two_companies):
    """Attack (g): persistent connections; request A then request B on the same backend."""
    a, b = two_companies
    assert connections["default"].settings_dict["CONN_MAX_AGE"] > 0
    client_a, client_b = Client(), Client()
    login(client_a, a.host, a.owner.email)
    login(client_b, b.host, b.owner.email)

    users_a = client_a.get("/admin/sysauth/user/", HTTP_HOST=a.host).content.decode()
    pid = backend_pid()
    assert session_settings()[0] == ""  # nothing left at session level
    users_b = client_b.get("/admin/sysauth/user/", HTTP_HOST=b.host).content.decode()
    assert backend_pid() == pid, "the test needs the same server connection for both requests"
    assert session_settings()[0] == ""

    each_shows_only_its_own((users_a, a.member.email), (users_b, b.member.email))


def test_session_cookie_of_a_is_worthless_on_b(live_db, two_companies):
    """Attack (h): B's host with A's session cookie."""
    a, b = two_companies
    client = Client()
    login(client, a.host, a.owner.email)
    assert client.get("/admin/sysauth/user/", HTTP_HOST=a.host).status_code == 200

    response = client.get("/admin/sysauth/user/", HTTP_HOST=b.host)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    response = client.get("/admin/", HTTP_HOST=b.host, follow=True)
    assert b.member.email not in response.content.decode()


def test_user_of_a_cannot_sign_in_on_b(live_db, two_companies):
    a, b = two_companies
    client = Client()
    response = admin_sign_in(client, b.host, a.owner.email)
    assert response.status_code == 200  # the form again, with its error
    assert response.context["form"].errors
    assert client.get("/admin/", HTTP_HOST=b.host).status_code == 302


def test_platform_admin_is_not_reachable_through_a_company_host(live_db, two_companies):
    a, _ = two_companies
    response = Client().get("/admin/tenants/company/", HTTP_HOST=a.host)
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert "/admin/login/" in response["Location"]
    # even a company superuser finds no platform models there
    client = Client()
    login(client, a.host, a.owner.email)
    assert client.get("/admin/tenants/company/", HTTP_HOST=a.host).status_code == 404


def test_unknown_host_gets_a_clear_404(live_db):
    response = Client().get("/", HTTP_HOST="nobody.localhost")
    assert response.status_code == 404
    assert "nobody.localhost" in response.content.decode()


@pytest.mark.parametrize("host", ["localhost", "acme.localhost", "nobody.localhost"])
def test_health_answers_without_database(host, live_db, two_companies):
    response = Client().get("/health/", HTTP_HOST=host)
    if host == "nobody.localhost":
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


MARKERS = ("BEGIN", "COMMIT")


def test_one_query_routes_a_company_request(live_db, two_companies):
    """The host lookup is the only statement of an anonymous company page; the
    Company it gives loads any other field when asked, still inside its own company."""
    from django.test.utils import CaptureQueriesContext

    from qiro import middleware, tenant_context

    a, _b = two_companies
    client = Client()
    client.get("/", HTTP_HOST=a.host)  # warm-up
    with CaptureQueriesContext(connections["default"]) as captured:
        assert client.get("/", HTTP_HOST=a.host).status_code == 200
    # On Citus the rest of a read request is one transaction: Django logs its BEGIN
    # and COMMIT, which psycopg sends only once a statement opens the transaction.
    statements = [q["sql"] for q in captured.captured_queries if q["sql"] not in MARKERS]
    assert [sql.split(" FROM ")[1][:17] for sql in statements] == ["qiro_resolve_host"]
    resolved = middleware.resolve_host(a.host)
    assert resolved is not None
    company = resolved.company()
    assert (company.pk, company.name) == (a.company.pk, a.company.name)
    with tenant_context.company_context(a.company):
        assert company.business_registration_number == a.company.business_registration_number
