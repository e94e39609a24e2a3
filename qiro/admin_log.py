"""The admin index's "recent actions", read by a statement the ORM writes once.

Django's ``{% get_admin_log 10 as admin_log for_user user %}`` takes
``AdminSite.get_log_entries()``, filters it by the user and slices it, and
the ORM compiles that joined query again on every index page: a tenth of the
page's CPU. ``RecentLogEntries`` is what the tag asks of it (``filter(user__pk=…)``
and a slice), answered with the same rows, in the same order, from a statement
compiled once (``qiro.db.compiled.OneValueQuery``); each entry's content type
comes from Django's cache of them (``ContentType.objects.get_for_id``), the
one table of ``public`` they all point at.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import router

from qiro.db.compiled import OneValueQuery

COLUMNS = tuple(field.attname for field in LogEntry._meta.concrete_fields)
_BY_LIMIT: dict[int, OneValueQuery] = {}


def _statement(limit: int) -> OneValueQuery:
    if limit not in _BY_LIMIT:
        _BY_LIMIT[limit] = OneValueQuery(
            LogEntry,
            lambda user_id: LogEntry.objects.filter(user_id=user_id).values_list(*COLUMNS)[:limit],
        )
    return _BY_LIMIT[limit]


def latest_entries(user_id: int, limit: int) -> list[LogEntry]:
    """The user's ``limit`` latest entries, newest first, each with its content type."""
    alias = router.db_for_read(LogEntry)
    entries = [LogEntry.from_db(alias, COLUMNS, row) for row in _statement(limit).rows(user_id)]
    for entry in entries:
        # A type that is gone is left to be read as Django would, when the page asks.
        if entry.content_type_id is not None:
            with contextlib.suppress(ContentType.DoesNotExist):
                entry.content_type = ContentType.objects.get_for_id(entry.content_type_id)
    return entries


class RecentLogEntries:
    """``get_log_entries()`` as the index's tag uses it: by user, then a slice."""

    def __init__(self, user_id: int | None = None) -> None:
        self.user_id = user_id

    def filter(self, *, user__pk: Any) -> RecentLogEntries:
        return RecentLogEntries(int(user__pk))

    def __getitem__(self, window: slice) -> list[LogEntry]:
        if self.user_id is None or window.start or window.step or window.stop is None:
            raise TypeError("the latest entries of one user only: filter(user__pk=…)[:n]")
        return latest_entries(self.user_id, window.stop)
