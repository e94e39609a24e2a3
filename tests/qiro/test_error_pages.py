"""Visitors get the site's own error pages, in Korean and English, even with DEBUG on.

``dev.py run`` serves with ``DJANGO_DEBUG=true``; Django's debug pages (every
URL pattern, tracebacks, settings) must not reach whoever opens a host.
"""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from qiro.error_pages import VisitorErrorPagesMiddleware

# What Django's debug and stock pages print, and ours never do.
DJANGO_PAGES = ("URLconf", "Using the URLconf", "Traceback", "DEBUG = True", "CSRF verification")


def assert_ours(page: str) -> None:
    for marker in DJANGO_PAGES:
        assert marker not in page, marker
    assert '<a class="brand" href="/">QIRO</a>' in page


@pytest.fixture
def debug_on(settings):
    settings.DEBUG = True


@pytest.mark.parametrize("language", ["ko", "en"])
def test_an_unknown_address_gets_our_404_on_both_hosts_with_debug_on(
    live_db, debug_on, two_companies, language
):
    company, _ = two_companies
    for host in ("localhost", company.host):
        response = Client().get("/no/such/page/", HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 404
        page = response.content.decode()
        assert_ours(page)
        assert ("페이지를 찾을 수 없습니다" if language == "ko" else "Page not found") in page


def test_a_missing_slash_is_still_redirected_with_debug_on(live_db, debug_on):
    response = Client().get("/signup", HTTP_HOST="localhost")
    assert response.status_code == 301
    assert response["Location"] == "/signup/"


def test_a_view_that_raises_gets_our_500_and_the_console_the_traceback(debug_on, caplog):
    request = RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE="ko")
    middleware = VisitorErrorPagesMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    response = middleware.process_exception(request, RuntimeError("secret detail"))
    assert response is not None
    assert response.status_code == 500
    page = response.content.decode()
    assert_ours(page)
    assert "secret detail" not in page
    assert "secret detail" in caplog.text


def test_a_refused_form_gets_our_csrf_page_in_korean(live_db):
    response = Client(enforce_csrf_checks=True).post(
        "/signup/", {}, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ko"
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert_ours(page)
    assert "양식이 만료되었습니다" in page


def test_with_debug_off_django_renders_the_same_pages(live_db, two_companies):
    company, _ = two_companies
    response = Client().get("/no/such/page/", HTTP_HOST=company.host, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert_ours(response.content.decode())
