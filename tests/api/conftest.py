"""Clients of the API: JSON over a company's host (or the platform's), by cookie or token."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from qiro import tenant_context
from sysauth import actions
from sysauth.models import Role, User, UserRole
from tests.conftest import PASSWORD, CompanyWithUsers
from tests.sysauth.conftest import module_company, new_company

API = "/api/v1"


class ApiClient:
    """One API client of one host: a cookie jar (with the CSRF token) or a bearer token."""

    def __init__(self, host: str, *, token: str | None = None, **defaults: Any) -> None:
        self.host = host
        self.token = token
        self.csrf: str | None = None
        self.client = Client(enforce_csrf_checks=True, **defaults)

    def call(self, method: str, path: str, body: Any = None, **extra: Any) -> Any:
        headers: dict[str, Any] = {"HTTP_HOST": self.host, **extra}
        if self.token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        if self.csrf:
            headers["HTTP_X_CSRFTOKEN"] = self.csrf
        data = json.dumps(body) if body is not None else None
        send = getattr(self.client, method.lower())
        if data is None:
            return send(API + path, **headers)
        return send(API + path, data=data, content_type="application/json", **headers)

    def get(self, path: str, **extra: Any) -> Any:
        return self.call("GET", path, **extra)

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.call("POST", path, body if body is not None else {}, **extra)

    def sign_in(self, email: str, password: str = PASSWORD, **more: Any) -> Any:
        response = self.post("/auth/sign-in", {"email": email, "password": password, **more})
        assert response.status_code == 200, response.content.decode()[:500]
        answer = response.json()
        if answer["authenticated_by"] == "token":
            self.token = answer["token"]
        else:
            self.csrf = answer["csrf_token"]
        return answer


def signed_in(host: str, email: str, *, token: bool = False, **more: Any) -> ApiClient:
    client = ApiClient(host)
    if token:
        more.setdefault("token_name", "tests")
    client.sign_in(email, **more)
    return client


def add_user(company: CompanyWithUsers, email: str, role: str | None = None) -> User:
    """A user of ``company`` (with ``role`` if given), written by the system."""
    with tenant_context.company_context(company.company):
        user = User.objects.create_user(email, PASSWORD, full_name=email.split("@")[0])
        if role is not None:
            UserRole.objects.create(user=user, role=Role.objects.get(name=role))
    tenant_context.clear()
    return user


@pytest.fixture(scope="module")
def company(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> CompanyWithUsers:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        made = new_company("apa")
        with tenant_context.company_context(made.company):
            actions.ensure_default_roles(acting_user=None)
        tenant_context.clear()
        return made


other_company = module_company("apb")


def problem(response: Any) -> dict[str, Any]:
    """The problem details of an error answer (checked to be one)."""
    assert response["Content-Type"].startswith("application/problem+json"), (
        response.status_code,
        response.content[:300],
    )
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    assert body["type"].startswith("urn:qiro:problem:")
    assert body["title"]
    assert body["detail"]
    return body


PLATFORM_HOST = settings.BASE_DOMAIN
