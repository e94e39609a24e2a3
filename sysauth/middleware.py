"""Sessions per request: the store gets the client's address, the ended are told why.

``SessionMiddleware`` replaces Django's so that the store knows the client's
IP address (``X-Forwarded-For`` only from ``QIRO_TRUSTED_PROXIES``) and device.
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
from django.contrib import messages
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from sysauth.models import SessionStatus
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
