"""What the company API reads and writes (pydantic, through django-ninja)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema

# Text that PostgreSQL can hold (no NUL) and of a sane size.
NoNul = r"^[^\x00]*$"


class SignIn(Schema):
    email: str = Field(max_length=254, pattern=NoNul)
    password: str = Field(max_length=4096, pattern=NoNul)
    # Machine clients: a token instead of a session, named so the user knows it.
    token_name: str | None = Field(default=None, max_length=100, pattern=NoNul)
    scopes: list[str] = Field(default_factory=list, max_length=20)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class RoleRef(Schema):
    id: int
    name: str
    label: str


class UserOut(Schema):
    id: int
    email: str
    full_name: str
    user_type: str
    is_active: bool
    date_joined: dt.datetime
    last_login: dt.datetime | None
    roles: list[str]


class Me(Schema):
    user: UserOut
    roles: list[str]
    permissions: list[str]
    authenticated_by: Literal["session", "token"]
    session_id: int | None
    token_id: int | None
    scopes: list[str]
    expires_at: dt.datetime | None


class SignedIn(Schema):
    authenticated_by: Literal["session", "token"]
    session_id: int | None = None
    csrf_token: str | None = None
    token: str | None = None
    token_id: int | None = None
    expires_at: dt.datetime | None = None


class Done(Schema):
    count: int


class SessionOut(Schema):
    id: int
    user_id: int | None
    user_email: str | None
    ip_address: str | None
    user_agent: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    status: str
    current: bool


class SessionPage(Schema):
    items: list[SessionOut]
    next_cursor: str | None


class UserPage(Schema):
    items: list[UserOut]
    next_cursor: str | None


class UserCreate(Schema):
    email: str = Field(max_length=254, pattern=NoNul)
    full_name: str = Field(default="", max_length=150, pattern=NoNul)
    password: str | None = Field(default=None, max_length=4096, pattern=NoNul)
    user_type: Literal["owner", "admin", "member"] = "member"
    role_ids: list[int] = Field(default_factory=list, max_length=50)


class RoleOut(Schema):
    id: int
    name: str
    label: str
    description: str
    permissions: list[str]


class RoleWrite(Schema):
    name: str = Field(max_length=50, pattern=r"^[-a-zA-Z0-9_]+$")
    label: str = Field(default="", max_length=100, pattern=NoNul)
    description: str = Field(default="", max_length=2000, pattern=NoNul)
    permissions: list[str] = Field(default_factory=list, max_length=200)


class Assignment(Schema):
    user_id: int = Field(ge=1, le=2**63 - 1)


class HistoryOut(Schema):
    id: int
    changed_at: dt.datetime
    operation: str
    table_name: str
    role_id: int | None
    role_name: str | None
    user_id: int | None
    user_email: str | None
    permission: str
    actor_id: int | None
    actor_email: str | None
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None


class HistoryPage(Schema):
    items: list[HistoryOut]
    next_cursor: str | None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    user_id: int
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreate(Schema):
    name: str = Field(max_length=100, pattern=NoNul)
    scopes: list[str] = Field(default_factory=list, max_length=20)
    expires_at: dt.datetime | None = None


class TokenIssued(Schema):
    token: str
    details: TokenOut
