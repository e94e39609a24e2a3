"""Issue, check and revoke API tokens (``sysauth.models_tokens.ApiToken``).

Rules kept here, whatever the entry point (the API, the company admin):

* a token is issued to the acting user only, never for someone else; a
  request made with a narrowed token issues tokens narrowed as much or more;
* a token works only while it is not revoked nor expired, its user is active
  and its company serves the request's host (the row lives in that company's
  schema, behind its row policy; a suspended company's host answers nothing);
* revoking another user's token is managing that user (``sysauth.hierarchy``);
* deactivating a user revokes their tokens (``sysauth.actions.deactivate_user``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, models, router, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _
from psycopg import sql

from sysauth import hierarchy
from sysauth.models import User
from sysauth.models_tokens import ApiToken

TOKEN_MARK = "qiro"  # noqa: S105 - the mark every token starts with, not a secret
PREFIX_LENGTH = 10
# last_used_at is written at most this often per token.
TOUCH_INTERVAL = timedelta(minutes=1)
# What a token may be narrowed to: an area, read or write.
SCOPES = (
    "users:read", "users:write", "roles:read", "roles:write", "sessions:read",
    "sessions:write", "history:read", "tokens:write", "platform:read", "platform:write",
)  # fmt: skip
MAX_TOKENS_PER_USER = 50


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def split_token(plain: str) -> str | None:
    """The public prefix of a well-formed token, or None."""
    mark, _sep, rest = plain.partition("_")
    prefix, _sep, secret = rest.partition("_")
    if mark != TOKEN_MARK or len(prefix) != PREFIX_LENGTH or len(secret) < 40:
        return None
    return prefix


def issue_token(
    *,
    user: User,
    name: str,
    scopes: Iterable[str] = (),
    expires_at: datetime | None = None,
    acting_user: User,
    within_scopes: Collection[str] | None = None,
) -> tuple[ApiToken, str]:
    """A new token of ``acting_user``; returns it with the plain token, shown only now.

    ``within_scopes`` are the scopes of the token the request itself came
    with (None or empty: not narrowed); the new token cannot reach further.
    """
    wanted = sorted(set(scopes))
    if acting_user.pk != user.pk:
        raise hierarchy.EscalationRefused(_("A token is issued to the signed-in user only."))
    unknown = set(wanted) - set(SCOPES)
    if unknown:
        raise ValidationError(
            {"scopes": _("Unknown scopes: %(scopes)s.") % {"scopes": ", ".join(sorted(unknown))}}
        )
    if within_scopes and (not wanted or not set(wanted) <= set(within_scopes)):
        raise hierarchy.EscalationRefused(
            _("A token narrowed to scopes can only issue tokens within those scopes.")
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": _("The expiry must be in the future.")})
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name that says what uses it.")})
    with transaction.atomic():
        usable = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
        if usable.count() >= MAX_TOKENS_PER_USER:
            raise ValidationError(
                _("You have %(count)d tokens already. Revoke one you no longer use first.")
                % {"count": MAX_TOKENS_PER_USER}
            )
        while True:
            prefix = get_random_string(PREFIX_LENGTH, string.ascii_lowercase + string.digits)
            plain = f"{TOKEN_MARK}_{prefix}_{secrets.token_urlsafe(32)}"
            try:
                with transaction.atomic():
                    token = ApiToken.objects.create(
                        user=user,
                        name=name[:100],
                        prefix=prefix,
                        secret_hash=hash_token(plain),
                        scopes=wanted,
                        expires_at=expires_at,
                    )
            except IntegrityError:  # the prefix was taken: draw another
                continue
            return token, plain


def _columns(model: type[models.Model]) -> list[Any]:
    """The model's fields, all of whose columns the driver already gives as Python values."""
    fields: list[Any] = list(model._meta.concrete_fields)
    converted = [f.name for f in fields if hasattr(f, "from_db_value")]
    if converted:  # a field the ORM would convert: the lookup below would need to as well
        raise TypeError(f"{model.__name__} columns need conversion: {converted}")
    return fields


@cache
def _lookup() -> tuple[str, list[str], list[str]]:
    """The token-with-its-user statement, written once per process from the models' fields.

    Every API request by token runs it, and the ORM would compile the same
    select-related query each time (more CPU than the query's round trip); the
    text is the same, by prefix (unique), in the schema of the request's context.
    """
    token_fields, user_fields = _columns(ApiToken), _columns(User)
    columns: list[sql.Composable] = [sql.Identifier("t", f.column) for f in token_fields]
    columns += [sql.Identifier("u", f.column) for f in user_fields]
    field: Any = ApiToken._meta.get_field
    statement = sql.SQL(
        "SELECT {} FROM {} AS t JOIN {} AS u ON u.{} = t.{} WHERE t.{} = %s"
    ).format(
        sql.SQL(", ").join(columns),
        sql.Identifier(ApiToken._meta.db_table),
        sql.Identifier(User._meta.db_table),
        sql.Identifier(field("user").target_field.column),
        sql.Identifier(field("user").column),
        sql.Identifier(field("prefix").column),
    )
    return (
        statement.as_string(),
        [f.attname for f in token_fields],
        [f.attname for f in user_fields],
    )


def _token_with_user(prefix: str) -> ApiToken | None:
    """The token of ``prefix`` in the current schema with its user loaded (one statement)."""
    statement, token_names, user_names = _lookup()
    alias = router.db_for_read(ApiToken)
    with connections[alias].cursor() as cursor:
        cursor.execute(statement, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    token = ApiToken.from_db(alias, token_names, row[: len(token_names)])
    user = User.from_db(alias, user_names, row[len(token_names) :])
    user_field: Any = ApiToken._meta.get_field("user")
    user_field.set_cached_value(token, user)
    return token


def authenticate_token(plain: str) -> ApiToken | None:
    """The usable token ``plain`` names in the current schema, with its user; else None.

    One indexed read; ``last_used_at`` is written at most once a minute.
    """
    prefix = split_token(plain)
    if prefix is None:
        return None
    token = _token_with_user(prefix)
    if token is None or not hmac.compare_digest(token.secret_hash, hash_token(plain)):
        return None
    if not token.is_usable or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke_token(*, token: ApiToken, acting_user: User | None, reason: str = "") -> bool:
    """Revoke one token: one's own, or another user's when one may manage them."""
    if acting_user is not None and acting_user.pk != token.user_id:
        hierarchy.ensure_may_manage(acting_user=acting_user, user=token.user)
    return bool(
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(),
            revoked_by=acting_user,
            revoked_reason=(reason or "revoked")[:200],
        )
    )


def revoke_user_tokens(*, user: User, reason: str, actor_id: int | None = None) -> int:
    """Revoke every token of ``user`` that is not revoked yet; returns how many."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by_id=actor_id, revoked_reason=reason[:200]
    )
