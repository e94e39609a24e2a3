"""The owner writes the limits and keys that SECURITY DEFINER functions obey.

``bootstrap`` calls ``write_server_settings`` on every start, so the row in
``public.qiro_server_settings`` follows the environment (``QIRO_SIGNUP_*``,
``QIRO_LOGIN_FAILURE*``, ``DJANGO_SECRET_KEY``).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from psycopg import sql


def signup_token_key() -> bytes:
    """The key that turns a server-made nonce into a verification link's secret.

    Derived from SECRET_KEY: the application server holds it, the runtime
    role's SQL cannot read it (only the owner's settings row has a copy).
    """
    return hmac.new(
        settings.SECRET_KEY.encode(), b"qiro.registration.signup-token-key", hashlib.sha256
    ).digest()


def declared_values() -> dict[str, Any]:
    return {
        "signup_token_seconds": int(settings.QIRO_SIGNUP_TOKEN_HOURS) * 3600,
        "signup_resend_limit": int(settings.QIRO_SIGNUP_RESEND_LIMIT),
        "signup_resend_window": int(settings.QIRO_SIGNUP_RESEND_WINDOW),
        "signup_token_key": signup_token_key(),
        "login_failures_per_ip": int(settings.QIRO_LOGIN_FAILURES_PER_IP),
        "login_failure_window": int(settings.QIRO_LOGIN_FAILURE_WINDOW),
    }


def write_server_settings(cursor: Any, **overrides: Any) -> None:
    """Insert or replace the one settings row (as the owner), from the settings.

    ``overrides`` (tests, e.g. a lower limit) must name columns of the row.
    """
    values = declared_values()
    unknown = set(overrides) - set(values)
    if unknown:
        raise ValueError(f"not server settings: {sorted(unknown)}")
    values.update(overrides)
    columns = [sql.Identifier(c) for c in values]
    cursor.execute(
        sql.SQL(
            "INSERT INTO public.qiro_server_settings (id, {}, written_at) VALUES (1, {}, now()) "
            "ON CONFLICT (id) DO UPDATE SET {}, written_at = now()"
        ).format(
            sql.SQL(", ").join(columns),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(c) for c in columns),
        ),
        list(values.values()),
    )
