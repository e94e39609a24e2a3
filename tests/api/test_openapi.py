"""The OpenAPI documents are served, valid, and list every endpoint; the docs page too."""

from __future__ import annotations

import pytest
from django.test import Client
from openapi_spec_validator import validate

from tests.api.conftest import PLATFORM_HOST

COMPANY_ENDPOINTS = {
    ("post", "/api/v1/auth/sign-in"), ("post", "/api/v1/auth/sign-out"),
    ("get", "/api/v1/auth/me"), ("get", "/api/v1/sessions/mine"), ("get", "/api/v1/sessions"),
    ("post", "/api/v1/sessions/{session_id}/revoke"), ("post", "/api/v1/sessions/revoke-others"),
    ("get", "/api/v1/users"), ("post", "/api/v1/users"), ("get", "/api/v1/users/{user_id}"),
    ("post", "/api/v1/users/{user_id}/deactivate"), ("post", "/api/v1/users/{user_id}/reactivate"),
    ("post", "/api/v1/users/{user_id}/password-reset"), ("get", "/api/v1/roles"),
    ("post", "/api/v1/roles"), ("get", "/api/v1/roles/{role_id}"),
    ("put", "/api/v1/roles/{role_id}"), ("post", "/api/v1/roles/{role_id}/assignments"),
    ("delete", "/api/v1/roles/{role_id}/assignments/{user_id}"),
    ("get", "/api/v1/permission-history"), ("get", "/api/v1/tokens"), ("post", "/api/v1/tokens"),
    ("post", "/api/v1/tokens/{token_id}/revoke"),
}  # fmt: skip
PLATFORM_ENDPOINTS = {
    ("post", "/api/v1/auth/sign-in"), ("post", "/api/v1/auth/sign-out"),
    ("get", "/api/v1/auth/me"), ("get", "/api/v1/companies"),
    ("post", "/api/v1/companies/{company_id}/suspend"),
    ("post", "/api/v1/companies/{company_id}/reactivate"), ("get", "/api/v1/applications"),
    ("post", "/api/v1/applications/{application_id}/approve"),
    ("post", "/api/v1/applications/{application_id}/reject"), ("get", "/api/v1/operations"),
    ("post", "/api/v1/operations"), ("get", "/api/v1/operations/{operation_id}"),
}  # fmt: skip


def operations(document):
    return {(m, p) for p, methods in document["paths"].items() for m in methods}


@pytest.fixture
def hosts(live_db, company):
    return {"company": (company.host, COMPANY_ENDPOINTS),
            "platform": (PLATFORM_HOST, PLATFORM_ENDPOINTS)}  # fmt: skip


@pytest.mark.parametrize("site", ["company", "platform"])
def test_the_openapi_document_is_valid_and_lists_every_endpoint(hosts, site):
    host, expected = hosts[site]
    response = Client().get("/api/v1/openapi.json", HTTP_HOST=host)
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert operations(document) == expected
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert operation.get("summary"), (method, path)


@pytest.mark.parametrize("site", ["company", "platform"])
def test_the_docs_page_is_served(hosts, site):
    host, _expected = hosts[site]
    response = Client().get("/api/v1/docs", HTTP_HOST=host)
    assert response.status_code == 200
    assert "openapi.json" in response.content.decode()
