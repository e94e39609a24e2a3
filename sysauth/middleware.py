"""Sessions per request: the store gets the client's address, the ended are told why.

``SessionMiddleware`` replaces Django's so that the store knows the client's
IP address (``X-Forwarded-For`` only from ``QIRO_TRUSTED_PROXIES``) and device.
``AuthenticationMiddleware`` is Django's, except that a signed-in request takes
its user from the statement that read the session, instead of a second one.
``SessionValidationMiddleware`` runs after authentication and messages: when
the cookie named a session that was revoked, expired or belongs to a
deactivated user, the request goes on signed out, with a message saying why.
Suspended companies never get here (``TenantContextMiddleware`` answers them).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from sysauth.models import SessionStatus, User
from sysauth.sessions.base import ClientInfo, TrackedSessionBase


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: the peer, or the nearest untrusted hop behind trusted proxies."""
    peer = _valid_ip(request.META.get("REMOTE_ADDR", ""))
    trusted = set(settings.QIRO_TRUSTED_PROXIES)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if peer is None or peer not in trusted or not forwarded:
        return peer
    for hop in reversed(forwarded.split(",")):
        address = _valid_ip(hop)
        if address is None:
            return peer  # a forged or broken header: believe only the proxy
        if address not in trusted:
            return address
    return peer


def client_info(request: HttpRequest) -> ClientInfo:
    return ClientInfo(
        ip_address=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:400]
    )


class SessionMiddleware(DjangoSessionMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        store = cast("type[TrackedSessionBase]", self.SessionStore)
        request.session = store(session_key, client=client_info(request))


# The backend whose ``get_user`` the session's own row stands in for.
EMAIL_BACKEND = "sysauth.backends.EmailBackend"


def user_read_with_session(request: HttpRequest) -> User | None:
    """The session's user as its store read it, when it is exactly who Django would load.

    That is: the session names this user by the e-mail backend, the user is
    active, and the session's hash matches the user's current one. Anything
    else (no such row, another backend, a hash from a rotated secret) returns
    None, and Django's own ``auth.get_user`` decides, flushing if it must.
    """
    session = request.session
    if not isinstance(session, TrackedSessionBase):
        return None
    user_id = session.get(auth.SESSION_KEY)  # loads the session, and its user
    user = session.loaded_user
    if (
        not isinstance(user, User)
        or not user.is_active
        or user_id is None
        or str(user.pk) != str(user_id)
        or session.get(auth.BACKEND_SESSION_KEY) != EMAIL_BACKEND
        or EMAIL_BACKEND not in settings.AUTHENTICATION_BACKENDS
    ):
        return None
    session_hash = session.get(auth.HASH_SESSION_KEY)
    if not session_hash or not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return None
    return user


def signed_in_user(request: HttpRequest) -> Any:
    if not hasattr(request, "_cached_user"):
        request._cached_user = user_read_with_session(request) or auth.get_user(request)  # type: ignore[attr-defined]
    return request._cached_user  # type: ignore[attr-defined]


class AuthenticationMiddleware(DjangoAuthMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: signed_in_user(request))  # type: ignore[assignment]


ENDED_MESSAGES: dict[str, Any] = {
    SessionStatus.REVOKED: _("Your session was ended by an administrator. Please sign in again."),
    SessionStatus.EXPIRED: _("Your session has expired. Please sign in again."),
    SessionStatus.LOGGED_OUT: _("You have been signed out. Please sign in again."),
}


class SessionValidationMiddleware:
    """Tell a person whose session may no longer be used that they are signed out."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if isinstance(session, TrackedSessionBase) and settings.SESSION_COOKIE_NAME in (
            request.COOKIES
        ):
            ended = session.ended()
            if ended is not None:
                messages.warning(
                    request, ENDED_MESSAGES.get(ended, ENDED_MESSAGES[SessionStatus.EXPIRED])
                )
        return self.get_response(request)
