"""``auth``: sign in (a session, or a token for machine clients), sign out, ``me``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import login, logout
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone
from ninja import Router, Status

from api.auth import AUTH, acting_user, current_token, retry_after
from api.company.common import user_out
from api.company.schemas import Me, SignedIn, SignIn
from api.problems import ApiProblem, django_errors
from api.versioned import rendered
from sysauth import hierarchy, selectors, tokens
from sysauth.forms import ThrottledAuthenticationForm
from sysauth.sessions.base import TrackedSessionBase

router = Router(tags=["auth"])


def require_json(request: HttpRequest) -> None:
    """A cross-site form cannot send JSON: no sign-in forged from another site."""
    if request.content_type != "application/json":
        raise ApiProblem("unsupported-media-type")


def check_credentials(request: HttpRequest, body: SignIn, form_class: Any) -> Any:
    """The sign-in form's own rules, throttles included: the user, or a problem."""
    form = form_class(request, data={"username": body.email, "password": body.password})
    if form.is_valid():
        return form.get_user()
    errors = form.errors.as_data()
    refusals = errors.pop("__all__", [])
    if errors:  # a field left empty; the form calls the e-mail address "username"
        fields = django_errors(ValidationError(errors))
        for field in fields:
            field["field"] = "email" if field["field"] == "username" else field["field"]
        raise ApiProblem("validation", errors=fields)
    message = " ".join(m for e in refusals for m in e.messages) or None
    if any(e.code == "throttled" for e in refusals):
        raise ApiProblem("throttled", message, headers=retry_after())
    raise ApiProblem("invalid-credentials", message)


def signed_in(request: HttpRequest, body: SignIn, user: Any) -> dict[str, Any]:
    """A token for a machine client (``token_name``), else a session cookie."""
    if body.token_name is not None:
        expires = (
            timezone.now() + dt.timedelta(days=body.expires_in_days)
            if body.expires_in_days
            else None
        )
        token, plain = tokens.issue_token(
            user=user, name=body.token_name, scopes=body.scopes, expires_at=expires,
            acting_user=user,
        )  # fmt: skip
        return {"authenticated_by": "token", "token": plain, "token_id": token.pk,
                "expires_at": token.expires_at}  # fmt: skip
    login(request, user)
    session = request.session
    session.save()
    return {
        "authenticated_by": "session",
        "session_id": session.record_pk if isinstance(session, TrackedSessionBase) else None,
        "csrf_token": get_token(request),
        "expires_at": session.get_expiry_date(),
    }


@router.post("/sign-in", auth=None, response=SignedIn, summary="Sign in")
def sign_in(request: HttpRequest, body: SignIn) -> dict[str, Any]:
    require_json(request)
    user = check_credentials(request, body, ThrottledAuthenticationForm)
    return signed_in(request, body, user)


@router.post("/sign-out", auth=AUTH, response={204: None}, summary="Sign out")
def sign_out(request: HttpRequest) -> Status[None]:
    """Ends this session, or revokes the token the request came with."""
    token = current_token(request)
    if token is not None:
        tokens.revoke_token(token=token, acting_user=acting_user(request), reason="signed out")
    else:
        logout(request)
    return Status(204, None)


@router.get("/me", auth=AUTH, response=Me, summary="The validated session")
def me(request: HttpRequest) -> HttpResponse:
    """Asked on every client's start and often after: written without a second pass
    through ``Me`` (``api.versioned.rendered``)."""
    user = acting_user(request)
    roles, of_roles = selectors.request_roles_and_permissions(user=user)
    token = current_token(request)
    session = request.session
    session_id = None
    expires = None
    if token is None and isinstance(session, TrackedSessionBase):
        session_id = session.record_pk
        expires = session.get_expiry_date()
    return rendered(
        {
            "user": user_out(user, roles),
            "roles": roles,
            "permissions": sorted(hierarchy.held_permissions(user, of_roles=of_roles)),
            "authenticated_by": "token" if token else "session",
            "session_id": session_id,
            "token_id": token.pk if token else None,
            "scopes": list(token.scopes) if token else [],
            "expires_at": token.expires_at if token else expires,
        }
    )
