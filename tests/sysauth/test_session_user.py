"""A signed-in request reads its session and its user in one statement, and trusts no more.

The store reads the user's row with the session's (``sysauth.sessions.db``);
``sysauth.middleware.AuthenticationMiddleware`` takes that user only when it is
exactly whom Django's ``auth.get_user`` would load: the session names it by the
e-mail backend, it is active, and the session's hash matches its password.
Anything else goes to Django, which signs the session out.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connections
from django.http import HttpRequest
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from qiro import tenant_context
from sysauth.middleware import user_read_with_session
from sysauth.models import Session, User
from sysauth.sessions.base import hash_session_key
from sysauth.sessions.db import SessionStore
from tests.sysauth.conftest import new_company, sign_in


def signed_in_client(made) -> Client:
    client = Client()
    sign_in(client, made.host, made.member.email)
    return client


def request_with_session(client: Client, made) -> HttpRequest:
    """A request as the middleware sees it: the client's cookie, in the company's context."""
    request = RequestFactory().get("/", HTTP_HOST=made.host)
    request.session = SessionStore(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return request


def test_a_signed_in_page_reads_the_user_with_the_session(live_db):
    made = new_company("su")
    client = signed_in_client(made)
    with CaptureQueriesContext(connections["default"]) as queries:
        response = client.get("/accounts/sessions/", HTTP_HOST=made.host)
    assert response.status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    assert any("FROM sysauth_session s LEFT JOIN sysauth_user u" in s for s in statements)
    # No second statement loads the signed-in user.
    assert not [s for s in statements if 'FROM "sysauth_user"' in s], statements


def test_a_password_changed_behind_the_session_signs_it_out(live_db):
    made = new_company("su")
    client = signed_in_client(made)
    with tenant_context.company_context(made.company):
        request = request_with_session(client, made)
        assert user_read_with_session(request) == made.member
        # The password changes elsewhere: the session's hash no longer matches.
        User.objects.filter(pk=made.member.pk).update(password=make_password("x-new-pass-91"))
        assert user_read_with_session(request_with_session(client, made)) is None
    response = client.get("/accounts/sessions/", HTTP_HOST=made.host)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_row_pointing_at_another_user_is_not_taken(live_db):
    """The row's user and the session's own user must be one: else Django decides."""
    made = new_company("su")
    client = signed_in_client(made)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    with tenant_context.company_context(made.company):
        Session.objects.filter(key_hash=hash_session_key(key)).update(user=made.owner)
        assert user_read_with_session(request_with_session(client, made)) is None
    # Django loads the session's own user (the member), never the row's owner.
    response = client.get("/accounts/sessions/", HTTP_HOST=made.host)
    assert response.context["user"].pk == made.member.pk


def test_another_backend_in_the_session_is_not_taken(live_db):
    made = new_company("su")
    client = signed_in_client(made)
    with tenant_context.company_context(made.company):
        request = request_with_session(client, made)
        request.session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        assert user_read_with_session(request) is None
