"""``sessions``: mine, the company's (with the permission), revoke one, revoke all others."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Router

from api.auth import AUTH, require
from api.company.common import get_or_404
from api.company.schemas import Done, SessionOut, SessionPage
from api.pagination import PageQuery, decode_cursor, keyset_page, page_limit
from api.problems import ApiProblem
from sysauth import actions, selectors
from sysauth.models import Session, SessionStatus
from sysauth.sessions.base import TrackedSessionBase

router = Router(tags=["sessions"], auth=AUTH)
VIEW_SESSION = "sysauth.view_session"
CHANGE_SESSION = "sysauth.change_session"


def current_session_pk(request: HttpRequest) -> int | None:
    if getattr(request, "api_token", None) is not None:
        return None
    session = request.session
    return session.record_pk if isinstance(session, TrackedSessionBase) else None


def session_out(session: Session, current_pk: int | None) -> dict[str, Any]:
    return {
        "id": session.pk,
        "user_id": session.user_id,
        "user_email": session.user.email if session.user else None,
        "ip_address": session.ip_address,
        "user_agent": session.user_agent,
        "created_at": session.created_at,
        "last_seen_at": session.last_seen_at,
        "expires_at": session.expires_at,
        "status": session.status,
        "current": session.pk == current_pk,
    }


@router.get("/mine", response=list[SessionOut], summary="My active sessions")
def my_sessions(request: HttpRequest) -> list[dict[str, Any]]:
    user = require(request, scope="sessions:read")
    current = current_session_pk(request)
    return [
        session_out(s, current)
        for s in selectors.active_sessions_of(user=user).select_related("user")
    ]


class SessionFilters(PageQuery):
    status: SessionStatus | None = None
    user_id: int | None = None


@router.get("", response=SessionPage, summary="The company's sessions, most recently seen first")
def company_sessions(request: HttpRequest, filters: Query[SessionFilters]) -> dict[str, Any]:
    require(request, scope="sessions:read", permission=VIEW_SESSION)
    limit = page_limit(filters.limit)
    sessions = Session.objects.select_related("user").order_by("-last_seen_at", "-id")
    if filters.status is not None:
        sessions = sessions.filter(status=filters.status)
    if filters.user_id is not None:
        sessions = sessions.filter(user_id=get_or_404_user_id(filters.user_id))
    if filters.cursor:
        seen, pk = decode_cursor(filters.cursor, (dt.datetime, int))
        sessions = sessions.filter(
            Q(last_seen_at__lte=seen) & (Q(last_seen_at__lt=seen) | Q(id__lt=pk))
        )
    rows = list(sessions[: limit + 1])
    current = current_session_pk(request)
    return keyset_page(
        rows,
        limit=limit,
        item=lambda s: session_out(s, current),
        cursor=lambda s: (s.last_seen_at, s.pk),
    )


def get_or_404_user_id(user_id: int) -> int:
    from sysauth.models import User

    return get_or_404(User, user_id).pk


@router.post("/{session_id}/revoke", response=Done, summary="End one session")
def revoke(request: HttpRequest, session_id: int) -> dict[str, int]:
    """One's own session, or (with the permission) any session of a user one may manage."""
    user = require(request, scope="sessions:write")
    if session_id == current_session_pk(request):
        raise ApiProblem("conflict", _use_sign_out())
    session = get_or_404(Session, session_id)
    if session.user_id == user.pk:
        return {"count": int(actions.sign_out_session(user=user, session_pk=session.pk))}
    require(request, scope="sessions:write", permission=CHANGE_SESSION)
    # The action refuses a session of a user this one may not manage (an owner's, for an admin).
    ended = actions.revoke_session(session=session, reason="revoked over the API", acting_user=user)
    return {"count": int(ended)}


def _use_sign_out() -> str:
    from django.utils.translation import gettext

    return gettext("Use auth/sign-out to end the session you are using.")


@router.post("/revoke-others", response=Done, summary="End all my other sessions")
def revoke_others(request: HttpRequest) -> dict[str, int]:
    user = require(request, scope="sessions:write")
    ended = actions.revoke_user_sessions(
        user=user,
        reason="signed out by the user",
        acting_user=user,
        keep_session_pk=current_session_pk(request),
    )
    return {"count": ended}
