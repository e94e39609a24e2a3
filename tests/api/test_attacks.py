"""The attack matrix over the API: foreign tokens and cookies, IDOR, revoked credentials.

Each test names the attack it tries, as a client of company A's host (or B's
credentials on A's host), through the runtime roles like any request.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from api.company.api import company_api
from qiro import tenant_context
from sysauth.models import Role, Session, SessionStatus, User
from sysauth.models_tokens import ApiToken
from tests.api.conftest import ApiClient, add_user, problem, signed_in
from tests.sysauth.conftest import new_company

FAR = 1_000_000


@pytest.fixture(scope="module")
def far_company(django_db_setup, django_db_blocker):
    """Company B whose ids (users, roles, sessions, tokens) exist nowhere in A.

    Each schema has its own sequences: B's sequences start far above A's, so
    an id of B used on A's host can only reach B's row, never one of A's own.
    """
    with django_db_blocker.unblock():
        made = new_company("apf")
        with connections["owner"].cursor() as cursor:
            for table in ("sysauth_user", "sysauth_role", "sysauth_session", "sysauth_apitoken"):
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)",
                    [f"{made.company.schema_name}.{table}", FAR],
                )
        return made


@pytest.fixture(scope="module")
def foreign(far_company, django_db_blocker):
    """B's rows: a member with a session and a token, and a custom role."""
    with django_db_blocker.unblock():
        victim = add_user(far_company, "victim@apf.example.kr", role="member")
        client = signed_in(far_company.host, victim.email)
        token_client = signed_in(far_company.host, victim.email, token=True)
        with tenant_context.company_context(far_company.company):
            role = Role.objects.create(name="far-team", label="B team")
            session = Session.objects.get(user=victim, status=SessionStatus.ACTIVE)
            token = ApiToken.objects.get(user=victim)
        tenant_context.clear()
        assert min(victim.pk, role.pk, session.pk, token.pk) > FAR
        return {"user": victim, "role": role, "session": session, "token": token,
                "cookie_client": client, "token_client": token_client}  # fmt: skip


# Every id-taking operation of the company API, with B's ids filled in.
IDOR_CALLS = {
    ("POST", "/sessions/{session_id}/revoke"): lambda f: f"/sessions/{f['session'].pk}/revoke",
    ("GET", "/users/{user_id}"): lambda f: f"/users/{f['user'].pk}",
    ("POST", "/users/{user_id}/deactivate"): lambda f: f"/users/{f['user'].pk}/deactivate",
    ("POST", "/users/{user_id}/reactivate"): lambda f: f"/users/{f['user'].pk}/reactivate",
    ("POST", "/users/{user_id}/password-reset"): lambda f: f"/users/{f['user'].pk}/password-reset",
    ("GET", "/roles/{role_id}"): lambda f: f"/roles/{f['role'].pk}",
    ("PUT", "/roles/{role_id}"): lambda f: f"/roles/{f['role'].pk}",
    ("POST", "/roles/{role_id}/assignments"): lambda f: f"/roles/{f['role'].pk}/assignments",
    ("DELETE", "/roles/{role_id}/assignments/{user_id}"): (
        lambda f: f"/roles/{f['role'].pk}/assignments/{f['user'].pk}"
    ),
    ("POST", "/tokens/{token_id}/revoke"): lambda f: f"/tokens/{f['token'].pk}/revoke",
}
BODIES = {
    "PUT": {"name": "taken-over", "permissions": []},
    "POST": {"user_id": 1},
}


def id_taking_operations() -> set[tuple[str, str]]:
    schema = company_api.get_openapi_schema(path_prefix="")
    return {
        (method.upper(), path)
        for path, methods in schema["paths"].items()
        if "{" in path
        for method in methods
    }


def test_every_id_taking_endpoint_is_in_the_idor_matrix():
    assert id_taking_operations() == set(IDOR_CALLS)


@pytest.mark.parametrize("operation", sorted(IDOR_CALLS), ids=" ".join)
def test_ids_of_company_b_are_not_found_on_company_a(live_db, company, foreign, operation):
    """IDOR: A's owner (every permission) sends B's ids to A's host."""
    method, _template = operation
    owner = signed_in(company.host, company.owner.email, token=True)
    response = owner.call(method, IDOR_CALLS[operation](foreign), BODIES.get(method))
    assert response.status_code == 404, response.content
    assert problem(response)["type"] == "urn:qiro:problem:not-found"


def test_assigning_a_role_to_a_user_of_company_b_is_not_found(live_db, company, foreign):
    owner = signed_in(company.host, company.owner.email, token=True)
    own_role = owner.get("/roles").json()[0]
    response = owner.post(f"/roles/{own_role['id']}/assignments", {"user_id": foreign["user"].pk})
    assert response.status_code == 404


def test_b_rows_are_untouched_after_the_idor_attempts(live_db, company, far_company, foreign):
    with tenant_context.company_context(far_company.company):
        assert User.objects.get(pk=foreign["user"].pk).is_active
        assert Role.objects.get(pk=foreign["role"].pk).name == "far-team"
        assert Session.objects.get(pk=foreign["session"].pk).status == SessionStatus.ACTIVE
        assert ApiToken.objects.get(pk=foreign["token"].pk).revoked_at is None


def test_a_token_of_company_b_means_nothing_on_company_a(live_db, company, foreign):
    """Cross-company token: B's valid token sent to A's host."""
    stolen = ApiClient(company.host, token=foreign["token_client"].token)
    response = stolen.get("/auth/me")
    assert response.status_code == 401
    assert problem(response)["type"] == "urn:qiro:problem:unauthenticated"
    assert (
        ApiClient(foreign["token_client"].host, token=stolen.token).get("/auth/me").status_code
        == 200
    )


def test_a_session_cookie_of_company_b_means_nothing_on_company_a(live_db, company, foreign):
    """Cross-company cookie: B's session cookie replayed on A's host."""
    cookie = foreign["cookie_client"].client.cookies["sessionid"].value
    replay = ApiClient(company.host)
    replay.client.cookies["sessionid"] = cookie
    assert replay.get("/auth/me").status_code == 401
    assert replay.get("/users").status_code == 401


def test_a_revoked_token_fails_at_once(live_db, company):
    client = signed_in(company.host, company.member.email, token=True)
    owner = signed_in(company.host, company.owner.email)
    token_id = client.get("/auth/me").json()["token_id"]
    assert owner.post(f"/tokens/{token_id}/revoke").status_code == 200
    assert client.get("/auth/me").status_code == 401


def test_an_expired_token_fails(live_db, company):
    client = signed_in(company.host, company.member.email, token=True)
    with tenant_context.company_context(company.company):
        ApiToken.objects.filter(prefix=str(client.token).split("_")[1]).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    assert client.get("/auth/me").status_code == 401


def test_a_revoked_session_fails_at_once(live_db, company):
    member = signed_in(company.host, company.member.email)
    session_id = member.get("/auth/me").json()["session_id"]
    owner = signed_in(company.host, company.owner.email, token=True)
    assert owner.post(f"/sessions/{session_id}/revoke").json() == {"count": 1}
    assert member.get("/auth/me").status_code == 401


def test_deactivating_a_user_revokes_their_tokens_and_sessions(live_db, company):
    user = add_user(company, "leaver@apa.example.kr", role="member")
    by_token = signed_in(company.host, user.email, token=True)
    by_cookie = signed_in(company.host, user.email)
    owner = signed_in(company.host, company.owner.email, token=True)
    assert owner.post(f"/users/{user.pk}/deactivate").json()["is_active"] is False
    assert by_token.get("/auth/me").status_code == 401
    assert by_cookie.get("/auth/me").status_code == 401
    with tenant_context.company_context(company.company):
        assert not ApiToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    # Reactivated, the old credentials stay dead.
    assert owner.post(f"/users/{user.pk}/reactivate").json()["is_active"] is True
    assert by_token.get("/auth/me").status_code == 401


def test_suspending_the_company_makes_all_its_tokens_fail_at_once(live_db):
    from tenants import actions

    made = new_company("aps")
    client = signed_in(made.host, made.owner.email, token=True)
    assert client.get("/auth/me").status_code == 200
    actions.suspend_company(company=made.company, reason="unpaid", acting_user=None)
    response = client.get("/auth/me")
    assert response.status_code == 403
    assert problem(response)["type"] == "urn:qiro:problem:company-suspended"
    actions.reactivate_company(company=made.company, acting_user=None)


def test_cookie_sessions_need_the_csrf_token_and_bearer_tokens_do_not(live_db, company):
    by_cookie = signed_in(company.host, company.member.email)
    by_cookie.csrf = None
    response = by_cookie.post("/sessions/revoke-others")
    assert response.status_code == 403
    assert problem(response)["type"] == "urn:qiro:problem:csrf-failed"
    assert by_cookie.get("/auth/me").status_code == 200  # safe methods need none
    by_token = signed_in(company.host, company.member.email, token=True)
    assert by_token.post("/sessions/revoke-others").status_code == 200


def test_sign_in_from_a_cross_site_form_is_refused(live_db, company):
    """Login CSRF: a form of another site can post text/plain, never JSON."""
    client = ApiClient(company.host)
    response = client.client.post(
        "/api/v1/auth/sign-in",
        data=f'{{"email": "{company.member.email}", "password": "x"}}',
        content_type="text/plain",
        HTTP_HOST=company.host,
    )
    assert response.status_code == 415
    assert problem(response)["type"] == "urn:qiro:problem:unsupported-media-type"
