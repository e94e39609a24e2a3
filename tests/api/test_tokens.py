"""API tokens: stored hashed, shown once, narrowed, last use recorded sparingly, revocable
over the API and in the company admin."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import connections
from django.test import Client
from django.utils import timezone
from psycopg import sql

from qiro import tenant_context
from sysauth.models_tokens import ApiToken
from tests.api.conftest import ApiClient, problem, signed_in
from tests.conftest import admin_sign_in
from tests.security.attacks import query


def stored(company, token_id):
    with tenant_context.company_context(company.company):
        return ApiToken.objects.get(pk=token_id)


def test_a_token_is_stored_only_as_a_hash_and_shown_once(live_db, company):
    owner = signed_in(company.host, company.owner.email, token=True)
    issued = owner.post("/tokens", {"name": "nightly export", "scopes": ["users:read"]})
    assert issued.status_code == 201, issued.content
    plain = issued.json()["token"]
    row = stored(company, issued.json()["details"]["id"])
    assert row.secret_hash == hashlib.sha256(plain.encode()).hexdigest()
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {company.company.schema_name}.sysauth_apitoken "
            "WHERE secret_hash = %s OR prefix = %s OR name = %s",
            [plain, plain, plain],
        )
        assert cursor.fetchone()[0] == 0
    listed = owner.get("/tokens").json()
    assert all("token" not in t and "secret_hash" not in t for t in listed)
    assert any(t["prefix"] == row.prefix for t in listed)


def test_a_token_row_belongs_to_its_company_under_row_security(live_db, company, other_company):
    """Company B's context reading A's token table by its schema-qualified name."""
    client = signed_in(company.host, company.member.email, token=True)
    row = stored(company, client.get("/auth/me").json()["token_id"])
    assert row.company_id == company.company.pk
    table = sql.Identifier(company.company.schema_name, "sysauth_apitoken")
    with tenant_context.company_context(other_company.company):
        assert not query(sql.SQL("SELECT prefix FROM {}").format(table))
    with tenant_context.company_context(company.company):  # the positive control
        assert query(sql.SQL("SELECT prefix FROM {}").format(table))


def test_last_use_is_written_at_most_once_a_minute(live_db, company):
    client = signed_in(company.host, company.member.email, token=True)
    token_id = client.get("/auth/me").json()["token_id"]
    first = stored(company, token_id).last_used_at
    assert first is not None
    client.get("/auth/me")
    assert stored(company, token_id).last_used_at == first
    with tenant_context.company_context(company.company):
        ApiToken.objects.filter(pk=token_id).update(last_used_at=first - timedelta(minutes=2))
    client.get("/auth/me")
    assert stored(company, token_id).last_used_at > first


def test_unknown_scopes_and_past_expiries_are_refused(live_db, company):
    owner = signed_in(company.host, company.owner.email, token=True)
    response = owner.post("/tokens", {"name": "x", "scopes": ["everything"]})
    assert response.status_code == 422
    assert problem(response)["errors"][0]["field"] == "scopes"
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = owner.post("/tokens", {"name": "x", "expires_at": past})
    assert response.status_code == 422
    assert problem(response)["errors"][0]["field"] == "expires_at"


def test_the_company_admin_revokes_tokens_after_a_question(live_db, company):
    victim = signed_in(company.host, company.member.email, token=True)
    token_id = victim.get("/auth/me").json()["token_id"]
    admin = Client()
    response = admin_sign_in(admin, company.host, company.owner.email)
    assert response.status_code == 302
    listing = admin.get("/admin/sysauth/apitoken/?state=usable", HTTP_HOST=company.host)
    assert listing.status_code == 200
    assert stored(company, token_id).prefix in listing.content.decode()
    form = {"action": "revoke", "_selected_action": [token_id]}
    question = admin.post("/admin/sysauth/apitoken/", form, HTTP_HOST=company.host)
    assert question.status_code == 200
    assert stored(company, token_id).revoked_at is None
    admin.post("/admin/sysauth/apitoken/", {**form, "confirm": "yes"}, HTTP_HOST=company.host)
    assert stored(company, token_id).revoked_at is not None
    assert victim.get("/auth/me").status_code == 401


def test_a_member_sees_no_tokens_in_the_admin(live_db, company):
    response = ApiClient(company.host).client.get(
        "/admin/sysauth/apitoken/", HTTP_HOST=company.host
    )
    assert response.status_code == 302  # to the admin's sign-in
