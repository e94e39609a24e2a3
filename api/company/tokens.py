"""``tokens``: my API tokens; issue one (shown once), revoke one."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from api.auth import AUTH, current_token, require
from api.company.common import get_or_404
from api.company.schemas import TokenCreate, TokenIssued, TokenOut
from sysauth import tokens
from sysauth.models_tokens import ApiToken

router = Router(tags=["tokens"], auth=AUTH)
CHANGE_USER = "sysauth.change_user"


def token_out(token: ApiToken) -> dict[str, Any]:
    return {"id": token.pk, "name": token.name, "prefix": token.prefix,
            "user_id": token.user_id, "scopes": list(token.scopes),
            "created_at": token.created_at, "expires_at": token.expires_at,
            "last_used_at": token.last_used_at, "revoked_at": token.revoked_at}  # fmt: skip


@router.get("", response=list[TokenOut], summary="My tokens")
def my_tokens(request: HttpRequest) -> list[dict[str, Any]]:
    user = require(request, scope="tokens:write")
    return [token_out(t) for t in ApiToken.objects.filter(user=user).order_by("-created_at")]


@router.post("", response={201: TokenIssued}, summary="Issue a token (shown once)")
def issue(request: HttpRequest, body: TokenCreate) -> Status[dict[str, Any]]:
    user = require(request, scope="tokens:write")
    own = current_token(request)
    token, plain = tokens.issue_token(
        user=user, name=body.name, scopes=body.scopes, expires_at=body.expires_at,
        acting_user=user, within_scopes=own.scopes if own else None,
    )  # fmt: skip
    return Status(201, {"token": plain, "details": token_out(token)})


@router.post("/{token_id}/revoke", response=TokenOut, summary="Revoke a token")
def revoke(request: HttpRequest, token_id: int) -> dict[str, Any]:
    """One's own; another user's with the permission to change users (and to manage them)."""
    user = require(request, scope="tokens:write")
    token = get_or_404(ApiToken, token_id)
    if token.user_id != user.pk:
        require(request, scope="tokens:write", permission=CHANGE_USER)
    tokens.revoke_token(token=token, acting_user=user, reason="revoked over the API")
    token.refresh_from_db()
    return token_out(token)
