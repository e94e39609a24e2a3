"""The hot answers (a history page, ``me``) are written directly, exactly as their schemas
would write them, in a fixed number of statements; the token lookup loads what the ORM would."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from pydantic import BaseModel

from api.company.schemas import HistoryOut, HistoryPage, Me
from api.versioned import RENDERER
from qiro import tenant_context
from qiro.db.compiled import OneValueQuery
from sysauth import tokens
from sysauth.models import Role, RolePermissionHistory
from sysauth.models_tokens import ApiToken
from tests.api.conftest import add_user, signed_in


def as_the_schema_writes(schema: type[BaseModel], body: dict[str, Any]) -> Any:
    """``body`` validated by ``schema`` and written back, as ninja writes a validated answer."""
    dumped = schema.model_validate(body).model_dump()
    return json.loads(RENDERER.render(None, dumped, response_status=200))  # type: ignore[arg-type]


def statements(queries: CaptureQueriesContext) -> list[str]:
    # (on Citus a read request is one transaction: its BEGIN and COMMIT are not statements)
    return [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "COMMIT")]


def test_every_history_page_is_what_its_schema_would_write(live_db, company):
    owner = signed_in(company.host, company.owner.email, token=True)
    clerk = add_user(company, "history-clerk@apa.example.kr")
    with tenant_context.company_context(company.company):
        admin_role = Role.objects.get(name="admin")
    tenant_context.clear()
    owner.post(f"/roles/{admin_role.pk}/assignments", {"user_id": clerk.pk})
    owner.call("DELETE", f"/roles/{admin_role.pk}/assignments/{clerk.pk}")

    seen: list[dict[str, Any]] = []
    path = "/permission-history?limit=3"
    for _page in range(3):
        response = owner.get(path)
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/json; charset=utf-8"
        body = response.json()
        assert body == as_the_schema_writes(HistoryPage, body)
        assert all(list(item) == list(HistoryOut.model_fields) for item in body["items"])
        seen += body["items"]
        if body["next_cursor"] is None:
            break
        path = f"/permission-history?limit=3&cursor={body['next_cursor']}"
    assert len(seen) >= 3

    by_clerk = owner.get(f"/permission-history?user_id={clerk.pk}").json()["items"]
    assert [h["operation"] for h in by_clerk[:2]] == ["DELETE", "INSERT"]
    with tenant_context.company_context(company.company):
        for item in seen + by_clerk:
            row = RolePermissionHistory.objects.select_related("role", "user", "actor").get(
                pk=item["id"]
            )
            assert item["role_name"] == (row.role.name if row.role else None)
            assert item["user_email"] == (row.user.email if row.user else None)
            assert item["actor_email"] == (row.actor.email if row.actor else None)
            assert item["new_values"] == row.new_values
            assert item["old_values"] == row.old_values
    tenant_context.clear()


def test_a_history_page_answers_in_three_statements_at_any_depth(live_db, company):
    """The host, the token with its user and their permissions, the page."""
    owner = signed_in(company.host, company.owner.email, token=True)
    owner.get("/auth/me")  # a first call may note last_used_at; the next ones are the hot path
    first = owner.get("/permission-history?limit=1").json()
    assert first["next_cursor"] is not None
    for path in ("/permission-history", f"/permission-history?cursor={first['next_cursor']}"):
        with CaptureQueriesContext(connections["default"]) as queries:
            assert owner.get(path).status_code == 200
        assert len(statements(queries)) == 3, [s[:120] for s in statements(queries)]


@pytest.mark.parametrize("token", [False, True], ids=["cookie", "token"])
def test_me_is_what_its_schema_would_write(live_db, company, token):
    client = signed_in(company.host, company.member.email, token=token)
    response = client.get("/auth/me")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body == as_the_schema_writes(Me, body)
    assert body["authenticated_by"] == ("token" if token else "session")
    assert body["user"]["email"] == company.member.email


def test_the_token_lookup_loads_the_token_and_its_user_as_the_orm_does(live_db, company):
    client = signed_in(company.host, company.member.email, token=True)
    token_id = client.get("/auth/me").json()["token_id"]
    with tenant_context.company_context(company.company):
        expected = ApiToken.objects.select_related("user").get(pk=token_id)
        found = tokens._token_with_user(expected.prefix)
        assert tokens._token_with_user("nosuchpref") is None
    tenant_context.clear()
    assert found is not None
    for model_field in ApiToken._meta.concrete_fields:
        name = model_field.attname
        assert getattr(found, name) == getattr(expected, name), name
    for model_field in type(expected.user)._meta.concrete_fields:
        name = model_field.attname
        assert getattr(found.user, name) == getattr(expected.user, name), name
    assert found._state.db == expected._state.db
    assert found.user._state.db == expected.user._state.db
    assert not found._state.adding


def test_the_token_lookup_refuses_a_model_whose_columns_need_converting(live_db, company):
    """A column the ORM converts (JSON, here) would be read raw by the compiled statement;
    the token lookup is compiled the same way, by a text parameter and its mark."""
    by_table = OneValueQuery(
        RolePermissionHistory,
        lambda name: RolePermissionHistory.objects.filter(table_name=name).values_list(
            "new_values"
        ),
        mark="\N{NULL}table",
    )
    with (
        tenant_context.company_context(company.company),
        pytest.raises(TypeError, match="need conversion"),
    ):
        by_table.rows("sysauth_role")
    tenant_context.clear()
