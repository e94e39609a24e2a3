"""Sessions that can be revoked, expire, and know their user, device and address.

Like ``django.contrib.sessions.backends.base``: this class does the work once;
a store fills in the five methods at the end, each with its contract. A
session is usable only while its row is ``active``, not past ``expires_at``
and its user is active; anything else reads as an empty, new session and
``ended_status`` says why, so the middleware can tell the person.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, SessionBase
from django.utils import timezone
from django.utils.crypto import get_random_string

from sysauth.models import SessionStatus

# last_seen_at is written at most this often per session.
TOUCH_INTERVAL = timedelta(minutes=1)


def hash_session_key(session_key: str) -> str:
    """What the table stores instead of the cookie value."""
    return hashlib.sha256(session_key.encode()).hexdigest()


@dataclass(frozen=True)
class ClientInfo:
    """Where a request comes from (see ``sysauth.middleware.client_ip``)."""

    ip_address: str | None
    user_agent: str


@dataclass(frozen=True)
class SessionRecord:
    """One row, as ``_fetch`` returns it."""

    pk: int
    session_data: str
    status: str
    expires_at: datetime
    last_seen_at: datetime
    user_id: int | None
    user_is_active: bool | None
    # The session's user, read by the same statement (stores that can; else None).
    user: Any = None


@dataclass(frozen=True)
class SessionValues:
    """What a save writes to the row, as ``_insert`` and ``_update`` take it."""

    session_data: str
    user_id: int | None
    expires_at: datetime


class TrackedSessionBase(SessionBase):
    def __init__(self, session_key: str | None = None, client: ClientInfo | None = None) -> None:
        super().__init__(session_key)
        self.client = client or ClientInfo(ip_address=None, user_agent="")
        # Set by load() when the cookie named a session that may no longer be used.
        self.ended_status: str | None = None
        self.record_pk: int | None = None
        # The active user of a usable session, when the store read it with the row.
        self.loaded_user: Any = None

    # --- the rules -------------------------------------------------------------

    def _get_new_session_key(self) -> str:
        # 32 random characters; a collision is caught by the unique key on insert.
        return get_random_string(32, VALID_KEY_CHARS)

    def ended(self) -> str | None:
        """Load the session if needed; the status that ended it, or None."""
        self.keys()  # loads the session if it is not loaded yet
        return self.ended_status

    def load(self) -> dict[str, Any]:
        key = self.session_key
        record = self._fetch(hash_session_key(key)) if key else None
        if key is None or record is None:
            self._session_key = None
            return {}
        now = timezone.now()
        ended: str | None = None
        if record.status != SessionStatus.ACTIVE:
            ended = record.status
        elif record.expires_at <= now:
            ended = SessionStatus.EXPIRED
            self._end(hash_session_key(key), status=SessionStatus.EXPIRED, reason="")
        elif record.user_id is not None and not record.user_is_active:
            ended = SessionStatus.REVOKED
            self._end(hash_session_key(key), status=SessionStatus.REVOKED, reason="user inactive")
        if ended is not None:
            self.ended_status = ended
            self._session_key = None
            return {}
        if now - record.last_seen_at >= TOUCH_INTERVAL:
            self._touch(hash_session_key(key), now=now, client=self.client)
        self.record_pk = record.pk
        self.loaded_user = record.user
        return self.decode(record.session_data)

    def exists(self, session_key: str | None) -> bool:
        """An active row has this key; no key (a new or flushed session) never exists."""
        if not session_key:
            return False
        record = self._fetch(hash_session_key(session_key))
        return record is not None and record.status == SessionStatus.ACTIVE

    def create(self) -> None:
        while True:
            self._session_key = self._get_new_session_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)  # type: ignore[attr-defined]
        key_hash = hash_session_key(self._get_or_create_session_key())  # type: ignore[attr-defined]
        user_id = data.get(SESSION_KEY)
        values = SessionValues(
            session_data=self.encode(data),
            user_id=int(user_id) if user_id is not None else None,
            expires_at=self.get_expiry_date(),
        )
        if must_create:
            self.record_pk = self._insert(key_hash, values, client=self.client)
        else:
            self._update(key_hash, values)

    def delete(self, session_key: str | None = None) -> None:
        """Sign out: the row stays, as ``logged_out``, for the person's own record."""
        key = session_key or self.session_key
        if key is None:
            return
        self._end(hash_session_key(key), status=SessionStatus.LOGGED_OUT, reason="")

    # --- what a store implements ----------------------------------------------

    def _fetch(self, key_hash: str) -> SessionRecord | None:
        """The row with this key hash in the current company, whatever its status."""
        raise NotImplementedError

    def _insert(self, key_hash: str, values: SessionValues, *, client: ClientInfo) -> int:
        """Write a new active row; raise ``CreateError`` if the key exists. Returns its id."""
        raise NotImplementedError

    def _update(self, key_hash: str, values: SessionValues) -> None:
        """Save the data of an active row; raise ``UpdateError`` if there is none any more."""
        raise NotImplementedError

    def _end(self, key_hash: str, *, status: str, reason: str) -> None:
        """End an active row with ``status`` (a row without a user may simply go)."""
        raise NotImplementedError

    def _touch(self, key_hash: str, *, now: datetime, client: ClientInfo) -> None:
        """Record that the session was seen now, from this client."""
        raise NotImplementedError
