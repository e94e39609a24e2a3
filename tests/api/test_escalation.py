"""A member or an administrator reaching beyond their rights over the API, and the
last-owner guard: the services' rules hold exactly as in the admin."""

from __future__ import annotations

import pytest

from tests.api.conftest import add_user, problem, signed_in
from tests.sysauth.conftest import new_company


@pytest.fixture(scope="module")
def shop(django_db_setup, django_db_blocker):
    """A company with an owner, an administrator and a member."""
    with django_db_blocker.unblock():
        made = new_company("ape")
        admin = add_user(made, "admin@ape.example.kr", role="admin")
        return made, admin


def role_id(client, name):
    return next(r["id"] for r in client.get("/roles").json() if r["name"] == name)


def refused(response, kind="escalation-refused", status=403):
    assert response.status_code == status, response.content
    assert problem(response)["type"] == f"urn:qiro:problem:{kind}"


def test_a_member_cannot_list_or_create_users(live_db, shop):
    made, _admin = shop
    member = signed_in(made.host, made.member.email, token=True)
    refused(member.get("/users"), "forbidden")
    refused(member.post("/users", {"email": "x@ape.example.kr"}), "forbidden")
    refused(member.get("/permission-history"), "forbidden")
    refused(member.get("/sessions"), "forbidden")


def test_a_member_cannot_revoke_another_users_session(live_db, shop):
    made, admin = shop
    victim = signed_in(made.host, admin.email)
    session_id = victim.get("/auth/me").json()["session_id"]
    member = signed_in(made.host, made.member.email, token=True)
    refused(member.post(f"/sessions/{session_id}/revoke"), "forbidden")
    assert victim.get("/auth/me").status_code == 200


def test_an_administrator_cannot_make_themselves_owner(live_db, shop):
    made, admin = shop
    client = signed_in(made.host, admin.email, token=True)
    owner_role = role_id(client, "owner")
    refused(client.post(f"/roles/{owner_role}/assignments", {"user_id": admin.pk}))


def test_an_administrator_cannot_create_a_role_with_rights_they_lack(live_db, shop):
    made, admin = shop
    client = signed_in(made.host, admin.email, token=True)
    response = client.post("/roles", {"name": "wide", "permissions": ["sysauth.delete_user"]})
    # The admin role may not add roles at all; with the right it would be an escalation.
    refused(response, "forbidden")


def test_an_owner_role_editor_must_be_an_owner(live_db, shop):
    made, admin = shop
    client = signed_in(made.host, admin.email, token=True)
    owner_role = role_id(client, "owner")
    refused(client.call("PUT", f"/roles/{owner_role}", {"name": "owner", "permissions": []}),
            "forbidden")  # fmt: skip


def test_an_administrator_cannot_touch_an_owner(live_db, shop):
    made, admin = shop
    client = signed_in(made.host, admin.email, token=True)
    refused(client.post(f"/users/{made.owner.pk}/deactivate"))
    refused(client.post(f"/users/{made.owner.pk}/password-reset"))
    owner = signed_in(made.host, made.owner.email, token=True)
    token_id = owner.get("/auth/me").json()["token_id"]
    refused(client.post(f"/tokens/{token_id}/revoke"))
    assert owner.get("/auth/me").status_code == 200


def test_an_administrator_cannot_assign_a_role_carrying_rights_they_lack(live_db, shop):
    made, admin = shop
    owner = signed_in(made.host, made.owner.email, token=True)
    wide = owner.post("/roles", {"name": "deleters", "permissions": ["sysauth.delete_user"]})
    assert wide.status_code == 201, wide.content
    client = signed_in(made.host, admin.email, token=True)
    refused(client.post(f"/roles/{wide.json()['id']}/assignments", {"user_id": made.member.pk}))


def test_the_last_owner_cannot_be_unassigned_or_deactivated(live_db, shop):
    made, _admin = shop
    owner = signed_in(made.host, made.owner.email, token=True)
    owner_role = role_id(owner, "owner")
    response = owner.call("DELETE", f"/roles/{owner_role}/assignments/{made.owner.pk}")
    body = problem(response)
    assert response.status_code == 422
    assert body["errors"][0]["field"] == "role"
    response = owner.post(f"/users/{made.owner.pk}/deactivate")
    assert response.status_code == 422
    assert owner.get("/auth/me").status_code == 200


def test_a_narrowed_token_stays_narrow(live_db, shop):
    made, _admin = shop
    reader = signed_in(made.host, made.owner.email, token=True, scopes=["users:read"])
    assert reader.get("/users").status_code == 200
    refused(reader.post("/users", {"email": "new@ape.example.kr"}), "scope-missing")
    refused(reader.get("/roles"), "scope-missing")
    # It cannot issue itself a wider token either.
    refused(reader.post("/tokens", {"name": "wider", "scopes": []}), "scope-missing")


def test_a_token_cannot_widen_its_scopes(live_db, shop):
    made, _admin = shop
    client = signed_in(made.host, made.owner.email, token=True,
                       scopes=["tokens:write", "users:read"])  # fmt: skip
    refused(client.post("/tokens", {"name": "wider", "scopes": []}))
    refused(client.post("/tokens", {"name": "wider", "scopes": ["roles:write"]}))
    narrower = client.post("/tokens", {"name": "narrower", "scopes": ["users:read"]})
    assert narrower.status_code == 201, narrower.content
