"""The two journeys of the earlier system's checklist, end to end over the API."""

from __future__ import annotations

from django.db import connections
from django.test.utils import CaptureQueriesContext

from qiro import tenant_context
from sysauth import hierarchy
from sysauth.models import User
from tests.api.conftest import ApiClient, add_user, problem, signed_in
from tests.conftest import PASSWORD


def test_sign_in_session_validate_sign_out_with_a_cookie(live_db, company):
    client = ApiClient(company.host)
    answer = client.sign_in(company.member.email)
    assert answer["authenticated_by"] == "session"
    assert answer["session_id"]
    assert client.client.cookies["sessionid"].value

    me = client.get("/auth/me")
    assert me.status_code == 200, me.content
    body = me.json()
    assert body["user"]["email"] == company.member.email
    assert body["session_id"] == answer["session_id"]
    assert body["authenticated_by"] == "session"
    assert body["roles"] == ["member"]
    assert body["expires_at"]

    mine = client.get("/sessions/mine").json()
    assert [s["id"] for s in mine if s["current"]] == [answer["session_id"]]

    assert client.post("/auth/sign-out").status_code == 204
    after = client.get("/auth/me")
    assert after.status_code == 401
    assert problem(after)["type"] == "urn:qiro:problem:unauthenticated"


def test_sign_in_token_validate_sign_out_for_a_machine_client(live_db, company):
    client = ApiClient(company.host)
    answer = client.sign_in(company.member.email, token_name="back office", expires_in_days=30)
    assert answer["authenticated_by"] == "token"
    assert answer["token"].startswith("qiro_")
    assert "sessionid" not in client.client.cookies

    body = client.get("/auth/me").json()
    assert body["authenticated_by"] == "token"
    assert body["token_id"] == answer["token_id"]
    assert body["session_id"] is None
    assert body["expires_at"]

    assert client.post("/auth/sign-out").status_code == 204
    assert client.get("/auth/me").status_code == 401


def test_assign_role_check_permission_unassign(live_db, company):
    owner = signed_in(company.host, company.owner.email)
    clerk = add_user(company, "clerk-journey@apa.example.kr")
    roles = {r["name"]: r for r in owner.get("/roles").json()}
    admin_role = roles["admin"]
    assert "sysauth.view_user" in admin_role["permissions"]

    clerk_client = signed_in(company.host, clerk.email, password=PASSWORD)
    assert clerk_client.get("/users").status_code == 403
    assert "sysauth.view_user" not in clerk_client.get("/auth/me").json()["permissions"]

    assigned = owner.post(f"/roles/{admin_role['id']}/assignments", {"user_id": clerk.pk})
    assert assigned.status_code == 201, assigned.content
    assert "admin" in assigned.json()["roles"]
    me = clerk_client.get("/auth/me").json()
    assert "sysauth.view_user" in me["permissions"]
    assert clerk_client.get("/users").status_code == 200

    history = owner.get(f"/permission-history?user_id={clerk.pk}").json()["items"]
    assert history[0]["operation"] == "INSERT"
    assert history[0]["role_id"] == admin_role["id"]
    assert history[0]["actor_id"] == company.owner.pk

    removed = owner.call("DELETE", f"/roles/{admin_role['id']}/assignments/{clerk.pk}")
    assert removed.status_code == 200, removed.content
    assert "admin" not in removed.json()["roles"]
    assert clerk_client.get("/users").status_code == 403
    history = owner.get(f"/permission-history?user_id={clerk.pk}").json()["items"]
    assert [h["operation"] for h in history[:2]] == ["DELETE", "INSERT"]


def test_me_answers_in_two_statements_by_cookie_and_by_token(live_db, company):
    """The host; the session or token with its user, their roles and permissions."""
    with tenant_context.company_context(company.company):
        held = sorted(hierarchy.held_permissions(User.objects.get(pk=company.member.pk)))
    tenant_context.clear()
    for token in (False, True):
        client = signed_in(company.host, company.member.email, token=token)
        client.get("/auth/me")  # a first call may note last_used_at; the next is the hot path
        with CaptureQueriesContext(connections["default"]) as queries:
            body = client.get("/auth/me").json()
        assert body["roles"] == ["member"]
        assert body["permissions"] == held
        # (on Citus the request is one transaction: its BEGIN and COMMIT are not statements)
        statements = [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "COMMIT")]
        assert len(statements) == 2, [s[:120] for s in statements]
