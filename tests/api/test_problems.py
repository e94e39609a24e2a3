"""Every error under /api/ is problem details (RFC 9457), translated, never a page."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api.conftest import PLATFORM_HOST, ApiClient, add_user, problem, signed_in
from tests.conftest import PASSWORD


def test_an_unknown_path_is_a_404_problem(live_db, company):
    response = Client().get("/api/v1/nothing-here", HTTP_HOST=company.host)
    assert response.status_code == 404
    assert problem(response)["type"] == "urn:qiro:problem:not-found"


def test_an_unknown_host_is_a_404_problem(live_db):
    response = Client().get("/api/v1/auth/me", HTTP_HOST="nobody.localhost")
    assert response.status_code == 404
    assert problem(response)["type"] == "urn:qiro:problem:unknown-host"


def test_a_wrong_method_is_a_405_problem_with_allow(live_db, company):
    response = Client().delete("/api/v1/auth/me", HTTP_HOST=company.host)
    assert response.status_code == 405
    assert problem(response)["type"] == "urn:qiro:problem:method-not-allowed"
    assert "GET" in response["Allow"]


def test_invalid_input_is_a_422_problem_naming_each_field(live_db, company):
    client = signed_in(company.host, company.owner.email, token=True)
    response = client.post("/users", {"email": 5, "user_type": "emperor"})
    body = problem(response)
    assert response.status_code == 422
    fields = {e["field"] for e in body["errors"]}
    assert {"email", "user_type"} <= fields
    assert all(e["message"] and e["code"] for e in body["errors"])


def test_a_refusal_of_a_service_is_a_422_problem_with_its_field(live_db, company):
    client = signed_in(company.host, company.owner.email, token=True)
    response = client.post("/users", {"email": company.member.email})
    body = problem(response)
    assert response.status_code == 422
    assert body["errors"][0]["field"] == "email"


@pytest.mark.parametrize(
    ("language", "title"), [("ko", "로그인이 필요합니다"), ("en", "Sign-in required")]
)
def test_titles_follow_accept_language_korean_first(live_db, company, language, title):
    response = Client().get(
        "/api/v1/auth/me", HTTP_HOST=company.host, HTTP_ACCEPT_LANGUAGE=language
    )
    body = problem(response)
    assert body["title"] == title
    assert response["Content-Language"] == language


def test_without_accept_language_the_answer_is_korean(live_db, company):
    response = Client().get("/api/v1/auth/me", HTTP_HOST=company.host)
    assert problem(response)["title"] == "로그인이 필요합니다"


def test_a_crash_is_a_500_problem_without_a_traceback(live_db, company, monkeypatch):
    from api.company import auth_routes

    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(auth_routes.selectors, "request_roles_and_permissions", broken)
    client = signed_in(company.host, company.member.email, token=True)
    response = client.get("/auth/me")
    body = problem(response)
    assert response.status_code == 500
    assert "secret internals" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert body["type"] == "urn:qiro:problem:server-error"


def test_too_many_failed_sign_ins_answer_429_with_retry_after(live_db, company):
    # An account of its own: the failures keep it throttled for the whole window.
    target = add_user(company, "guessed@apa.example.kr")
    client = ApiClient(company.host, REMOTE_ADDR="198.51.100.20")
    for _attempt in range(5):
        response = client.post("/auth/sign-in", {"email": target.email, "password": "wrong"})
        assert response.status_code == 401
        assert problem(response)["type"] == "urn:qiro:problem:invalid-credentials"
    # Now even the right password is refused.
    response = client.post("/auth/sign-in", {"email": target.email, "password": PASSWORD})
    assert response.status_code == 429
    assert problem(response)["type"] == "urn:qiro:problem:throttled"
    assert int(response["Retry-After"]) > 0


def test_guessing_tokens_from_one_address_answers_429(live_db, company):
    client = ApiClient(company.host, token="qiro_aaaaaaaaaa_" + "x" * 43,
                       REMOTE_ADDR="198.51.100.21")  # fmt: skip
    statuses = [client.get("/auth/me").status_code for _guess in range(31)]
    assert statuses[0] == 401
    assert statuses[-1] == 429
    response = client.get("/auth/me")
    assert problem(response)["type"] == "urn:qiro:problem:throttled"
    assert int(response["Retry-After"]) > 0


def test_platform_api_errors_are_problems_too(live_db):
    response = Client().get("/api/v1/companies", HTTP_HOST=PLATFORM_HOST)
    assert response.status_code == 401
    assert problem(response)["type"] == "urn:qiro:problem:unauthenticated"
