"""``users``: list with search (keyset by e-mail), create, deactivate, reactivate, reset."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Status

from api.auth import AUTH, require
from api.company.common import get_or_404, user_out
from api.company.schemas import NoNul, UserCreate, UserOut, UserPage
from api.pagination import PageQuery, decode_cursor, keyset_page, page_limit
from sysauth import actions, selectors
from sysauth.models import Role, User

router = Router(tags=["users"], auth=AUTH)
VIEW_USER = "sysauth.view_user"
ADD_USER = "sysauth.add_user"
CHANGE_USER = "sysauth.change_user"


class UserFilters(PageQuery):
    search: str | None = Field(default=None, max_length=100, pattern=NoNul)
    is_active: bool | None = None


def user_rows(filters: UserFilters) -> QuerySet[User]:
    """The users of the page ``filters`` asks for, and one more (are there more?)."""
    limit = page_limit(filters.limit)
    users = selectors.users_with_roles().order_by("email")
    if filters.search:
        term = filters.search.strip()
        users = users.filter(Q(email__icontains=term) | Q(full_name__icontains=term))
    if filters.is_active is not None:
        users = users.filter(is_active=filters.is_active)
    if filters.cursor:
        (after,) = decode_cursor(filters.cursor, (str,))
        users = users.filter(email__gt=after)
    return users[: limit + 1]


@router.get("", response=UserPage, summary="Users, by e-mail address")
def list_users(request: HttpRequest, filters: Query[UserFilters]) -> dict[str, Any]:
    """Keyset-paginated on the (unique) e-mail address, each with its roles' names."""
    require(request, scope="users:read", permission=VIEW_USER)
    return keyset_page(
        user_rows(filters),
        limit=page_limit(filters.limit),
        item=user_out,
        cursor=lambda u: (u.email,),
    )


@router.get("/{user_id}", response=UserOut, summary="One user")
def get_user(request: HttpRequest, user_id: int) -> dict[str, Any]:
    require(request, scope="users:read", permission=VIEW_USER)
    return user_out(get_or_404(User, user_id))


@router.post("", response={201: UserOut}, summary="Create a user")
def create_user(request: HttpRequest, body: UserCreate) -> Status[dict[str, Any]]:
    """Without a password the user gets the e-mail to choose one (as in the admin)."""
    acting = require(request, scope="users:write", permission=ADD_USER)
    roles = [get_or_404(Role, pk) for pk in dict.fromkeys(body.role_ids)]
    user = actions.create_user(
        email=body.email, full_name=body.full_name, password=body.password or None,
        user_type=body.user_type, roles=roles, acting_user=acting,
    )  # fmt: skip
    if not body.password:
        actions.send_password_reset_email(user=user, request=request, acting_user=acting)
    return Status(201, user_out(user))


@router.post("/{user_id}/deactivate", response=UserOut, summary="Deactivate a user")
def deactivate(request: HttpRequest, user_id: int) -> dict[str, Any]:
    """Ends their sessions and revokes their tokens; never the last active owner."""
    acting = require(request, scope="users:write", permission=CHANGE_USER)
    user = get_or_404(User, user_id)
    if user.is_active:
        actions.deactivate_user(user=user, acting_user=acting)
    return user_out(user)


@router.post("/{user_id}/reactivate", response=UserOut, summary="Reactivate a user")
def reactivate(request: HttpRequest, user_id: int) -> dict[str, Any]:
    acting = require(request, scope="users:write", permission=CHANGE_USER)
    user = get_or_404(User, user_id)
    actions.reactivate_user(user=user, acting_user=acting)
    return user_out(user)


@router.post("/{user_id}/password-reset", response={202: None}, summary="Mail a password reset")
def password_reset(request: HttpRequest, user_id: int) -> Status[None]:
    acting = require(request, scope="users:write", permission=CHANGE_USER)
    user = get_or_404(User, user_id, is_active=True)
    actions.send_password_reset_email(user=user, request=request, acting_user=acting)
    return Status(202, None)
