"""Who a request acts for: a bearer token, or the session cookie (with CSRF).

A token is looked up in the schema of the request's host only (row security
and the schema wall keep any other company's tokens out of reach), and a
suspended company's host never reaches this (``TenantContextMiddleware``).
Failed token attempts count towards the per-address sign-in throttle
(``sysauth.address_throttle``); once over it, the address gets 429 with
``Retry-After`` instead of 401. Cookie sessions pass Django's CSRF check on
unsafe methods; bearer tokens do not need it (a browser never adds them).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from api.problems import ApiProblem
from qiro import tenant_context
from sysauth import address_throttle, tokens
from sysauth.middleware import client_ip
from sysauth.models import User
from sysauth.models_tokens import ApiToken


def retry_after() -> dict[str, str]:
    return {"Retry-After": str(settings.QIRO_LOGIN_FAILURE_WINDOW)}


class BearerToken(HttpBearer):
    """``Authorization: Bearer qiro_<prefix>_<secret>``."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        found = tokens.authenticate_token(token)
        if found is None:
            address = client_ip(request)
            if address:
                if address_throttle.address_is_throttled(ip_address=address):
                    raise ApiProblem("throttled", headers=retry_after())
                address_throttle.record_address_failure(ip_address=address)
            return None
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]
        tenant_context.set_actor(found.user.pk)
        return found.user


class SessionCookie(APIKeyCookie):
    """The session cookie of the host (``/accounts/login/`` or ``auth/sign-in``)."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = getattr(request, "user", None)
        if key and user is not None and user.is_authenticated and user.is_active:
            return user
        return None


AUTH = [BearerToken(), SessionCookie()]


def current_token(request: HttpRequest) -> ApiToken | None:
    return getattr(request, "api_token", None)


def acting_user(request: HttpRequest) -> User:
    user: Any = request.user
    return user


def require(request: HttpRequest, *, scope: str, permission: str | None = None) -> User:
    """The acting user, if their token covers ``scope`` and their roles ``permission``."""
    token = current_token(request)
    if token is not None and token.scopes and scope not in token.scopes:
        raise ApiProblem("scope-missing")
    user = acting_user(request)
    if permission is not None and not user.has_perm(permission):
        raise ApiProblem("forbidden")
    return user
