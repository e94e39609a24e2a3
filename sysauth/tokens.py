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
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import IntegrityError, router, transaction
from django.db.models import CharField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _

from qiro.db.compiled import OneValueQuery
from sysauth import hierarchy
from sysauth.backends import remember_roles, role_arrays_sql
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


# Every API request by token reads its token, its user and what the user's roles hold (for
# ``has_perm`` and ``auth/me``): one statement, compiled once (qiro.db.compiled), by prefix
# (unique), in the schema of the request's context.
_TOKEN_NAMES = [f.attname for f in ApiToken._meta.concrete_fields]
_USER_NAMES = [f.attname for f in User._meta.concrete_fields]
_TOKEN_WITH_USER = OneValueQuery(
    ApiToken,
    lambda prefix: (
        ApiToken.objects.filter(prefix=prefix)
        .order_by()
        .annotate(
            **{
                # the expressions hold table and column names only, no input
                name: RawSQL(expression, (), output_field=ArrayField(CharField()))  # noqa: S611
                for name, expression in zip(
                    ("role_names", "role_permissions"),
                    role_arrays_sql(f'"{ApiToken._meta.db_table}"."user_id"'),
                    strict=True,
                )
            }
        )
        .values_list(
            *_TOKEN_NAMES,
            *(f"user__{name}" for name in _USER_NAMES),
            "role_names",
            "role_permissions",
        )
    ),
    mark="\N{NULL}prefix",  # no token's prefix holds a NUL
)


def _token_with_user(prefix: str) -> ApiToken | None:
    """The token of ``prefix`` in the current schema with its user loaded, and the user's
    roles and permissions remembered for the request (one statement)."""
    rows = _TOKEN_WITH_USER.rows(prefix)
    if not rows:
        return None
    (row,) = rows
    alias = router.db_for_read(ApiToken)
    users_end = len(_TOKEN_NAMES) + len(_USER_NAMES)
    token = ApiToken.from_db(alias, _TOKEN_NAMES, row[: len(_TOKEN_NAMES)])
    user = User.from_db(alias, _USER_NAMES, row[len(_TOKEN_NAMES) : users_end])
    role_names, role_permissions = row[users_end:]
    remember_roles(user, role_names, role_permissions)
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
