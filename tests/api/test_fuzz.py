"""No input gives a server error: generated bodies, query parameters and path ids at every
operation of both APIs, signed in with every permission. Every answer must be below 500.

The operations come from the OpenAPI documents, so a new endpoint is fuzzed without
being listed here. Generation is derandomized and sized to keep the module short.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.urls import set_urlconf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.company.api import company_api
from api.platform.api import platform_api
from tests.api.conftest import PLATFORM_HOST, ApiClient, signed_in
from tests.conftest import PASSWORD
from tests.sysauth.conftest import module_company
from tests.test_input_fuzz import HOSTILE, VALUES

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=12,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.sampled_from(HOSTILE),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
)  # fmt: skip
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                          max_size=4),
    max_leaves=10,
)  # fmt: skip


def operations(api: Any, prefix: str = "") -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path, query parameter names, body field names) of every operation."""
    set_urlconf("qiro.urls_public" if api is platform_api else "qiro.urls_tenant")
    try:
        document = api.get_openapi_schema(path_prefix="")
    finally:
        set_urlconf(None)
    schemas = document.get("components", {}).get("schemas", {})
    found = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            body: list[str] = []
            content = operation.get("requestBody", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref:
                body = list(schemas[ref.rsplit("/", 1)[-1]].get("properties", {}))
            found.append((method.upper(), path, query, body))
    return found


COMPANY_OPERATIONS = operations(company_api)
PLATFORM_OPERATIONS = operations(platform_api)


def fill_path(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value.replace("/", "%2F").replace("?", "%3F") or "0", path)


def body_for(fields: list[str]) -> Any:
    known = st.fixed_dictionaries({}, optional={f: JSON for f in fields})
    return st.one_of(known, JSON)


def check(client: ApiClient, method: str, path: str, body: Any, query: dict[str, str]) -> None:
    from urllib.parse import urlencode

    url = path + ("?" + urlencode(query) if query else "")
    if method in ("GET", "DELETE"):
        response = client.call(method, url)
    else:
        response = client.client.generic(
            method, "/api/v1" + url, data=json.dumps(body), content_type="application/json",
            HTTP_HOST=client.host, HTTP_AUTHORIZATION=f"Bearer {client.token}",
        )  # fmt: skip
    assert response.status_code < 500, (method, url, body, response.content[:300])
    assert response["Content-Type"].startswith("application/"), response["Content-Type"]


def fuzz_operation(
    client: ApiClient, method: str, path: str, query_names: Any, body_fields: Any
) -> None:
    """Call one operation with generated ids, bodies and queries; ``check`` each answer."""

    @FUZZ
    @given(
        ident=VALUES,
        body=body_for(body_fields),
        query=st.dictionaries(st.sampled_from([*query_names, "cursor", "x"]), VALUES, max_size=4),
    )
    def fuzz(ident: str, body: Any, query: dict[str, str]) -> None:
        check(client, method, fill_path(path, ident), body, query)

    fuzz()


fuzz_company = module_company("apz")


def _ids(operation: tuple[str, str, list[str], list[str]]) -> str:
    return f"{operation[0]} {operation[1]}"


@pytest.mark.parametrize("operation", COMPANY_OPERATIONS, ids=_ids)
def test_company_api_never_answers_a_server_error(live_db, fuzz_company, operation):
    method, path, query_names, body_fields = operation
    path = path.removeprefix("/api/v1")
    client = ApiClient(fuzz_company.host, REMOTE_ADDR="192.0.2.77")
    client.sign_in(fuzz_company.owner.email, PASSWORD, token_name="fuzz")
    if path == "/auth/sign-out":
        pytest.skip("signing out ends the fuzzing client itself")

    fuzz_operation(client, method, path, query_names, body_fields)


@pytest.mark.parametrize("operation", PLATFORM_OPERATIONS, ids=_ids)
def test_platform_api_never_answers_a_server_error(live_db, platform_token, operation):
    method, path, query_names, body_fields = operation
    path = path.removeprefix("/api/v1")
    if path == "/auth/sign-out" or (method, path) == ("POST", "/operations"):
        pytest.skip("ends the client, or queues real operations")
    if path.endswith("/approve"):
        pytest.skip("provisions companies: covered by the platform tests")
    client = ApiClient(PLATFORM_HOST, token=platform_token)

    fuzz_operation(client, method, path, query_names, body_fields)


@pytest.fixture
def platform_token(staff_client) -> str:
    client = signed_in(PLATFORM_HOST, "platform-staff@qiro.example.kr", token=True)
    assert client.token
    return client.token
