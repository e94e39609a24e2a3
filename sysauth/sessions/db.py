"""The session store of ``SESSION_ENGINE``: rows of ``sysauth.Session`` via the ORM.

The ORM goes to the alias of the request (``qiro.tenant_context``), so the
rows are those of the host's schema and company, under row-level security.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from qiro.tenant_context import current_alias
from sysauth.backends import remember_roles, role_arrays_sql
from sysauth.models import Session, SessionStatus, User
from sysauth.sessions.base import (
    TOUCH_INTERVAL,
    ClientInfo,
    SessionRecord,
    SessionValues,
    TrackedSessionBase,
)

# The session's user comes with its row, and what the user's roles hold (for ``has_perm``
# and ``auth/me``): a signed-in request reads them in one statement
# (``sysauth.middleware.AuthenticationMiddleware`` takes the user).
USER_FIELDS = [field.attname for field in User._meta.concrete_fields]
USER_COLUMNS = ", ".join(f'u."{field.column}"' for field in User._meta.concrete_fields)
FETCH_SQL = " ".join((
    "SELECT s.id, s.session_data, s.status::text, s.expires_at, s.last_seen_at, s.user_id,",
    "u.is_active,",
    ", ".join(role_arrays_sql("s.user_id")) + ",",
    USER_COLUMNS,  # the model's own columns, joined once at import
    "FROM sysauth_session s LEFT JOIN sysauth_user u ON u.id = s.user_id WHERE s.key_hash = %s",
))  # fmt: skip
# How long ended sessions stay listed before the clean-up removes them.
ENDED_RETENTION = timedelta(days=30)


class SessionStore(TrackedSessionBase):
    def _fetch(self, key_hash: str) -> SessionRecord | None:
        # The hot path of every request: one statement, written out so that no
        # query is compiled per request.
        alias = current_alias()
        with connections[alias].cursor() as cursor:
            cursor.execute(FETCH_SQL, [key_hash])
            row = cursor.fetchone()
        if row is None:
            return None
        pk, data, status, expires_at, last_seen_at, user_id, user_is_active = row[:7]
        role_names, role_permissions = row[7:9]
        user = None
        if user_is_active:
            user = User.from_db(alias, USER_FIELDS, row[9:])
            remember_roles(user, role_names, role_permissions)
        return SessionRecord(
            pk, data, status, expires_at, last_seen_at, user_id, user_is_active, user=user
        )

    def _insert(self, key_hash: str, values: SessionValues, *, client: ClientInfo) -> int:
        now = timezone.now()
        session = Session(
            key_hash=key_hash,
            session_data=values.session_data,
            user_id=values.user_id,
            expires_at=values.expires_at,
            ip_address=client.ip_address,
            user_agent=client.user_agent[:400],
            created_at=now,
            last_seen_at=now,
        )
        try:
            with transaction.atomic(using=current_alias()):
                session.save(force_insert=True)
        except IntegrityError as error:
            raise CreateError from error
        return session.pk

    def _update(self, key_hash: str, values: SessionValues) -> None:
        updated = Session.objects.filter(key_hash=key_hash, status=SessionStatus.ACTIVE).update(
            session_data=values.session_data, user_id=values.user_id, expires_at=values.expires_at
        )
        if not updated:
            raise UpdateError

    def _end(self, key_hash: str, *, status: str, reason: str) -> None:
        active = Session.objects.filter(key_hash=key_hash, status=SessionStatus.ACTIVE)
        if not active.filter(user__isnull=False).update(
            status=status, ended_at=timezone.now(), revoked_reason=reason
        ):
            active.filter(user__isnull=True).delete()

    def _touch(self, key_hash: str, *, now: datetime, client: ClientInfo) -> None:
        Session.objects.filter(key_hash=key_hash, last_seen_at__lte=now - TOUCH_INTERVAL).update(
            last_seen_at=now, ip_address=client.ip_address
        )

    @classmethod
    def clear_expired(cls) -> None:
        """Mark active sessions past their expiry as expired; drop long-ended ones.

        Works on the current company (or the public schema on the platform alias).
        """
        now = timezone.now()
        Session.objects.filter(status=SessionStatus.ACTIVE, expires_at__lte=now).update(
            status=SessionStatus.EXPIRED, ended_at=now
        )
        Session.objects.filter(
            Q(ended_at__lt=now - ENDED_RETENTION)
            | Q(user__isnull=True, status__in=[SessionStatus.EXPIRED, SessionStatus.REVOKED])
        ).exclude(status=SessionStatus.ACTIVE).delete()
