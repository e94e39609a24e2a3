"""``permission-history``: every change of role permissions and assignments, newest first.

Keyset-paginated on (changed_at, id): the next page starts below the last
row's pair, so PostgreSQL reads it from the time index (or the user's or the
role's index when filtered by them) from that point on, at any depth.

A page is read as the entries' columns only (``values_list``: the role's name
and the e-mails through their joins, no model built per row) and written
without a second pass through the schema (``api.versioned.rendered``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router

from api.auth import AUTH, require
from api.company.schemas import HistoryPage
from api.pagination import PageQuery, decode_cursor, keyset_page, page_limit
from api.versioned import rendered
from sysauth.models import HistoryOperation, RolePermissionHistory

router = Router(tags=["permission-history"], auth=AUTH)
VIEW_HISTORY = "sysauth.view_rolepermissionhistory"


class HistoryFilters(PageQuery):
    user_id: int | None = None
    role_id: int | None = None
    operation: HistoryOperation | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


# What an entry shows (the fields of ``HistoryOut``, in its order) and where each comes
# from: only these columns are read, the names through the joins, no model built per row.
ENTRY_COLUMNS = {
    "id": "id",
    "changed_at": "changed_at",
    "operation": "operation",
    "table_name": "table_name",
    "role_id": "role_id",
    "role_name": "role__name",
    "user_id": "user_id",
    "user_email": "user__email",
    "permission": "permission",
    "actor_id": "actor_id",
    "actor_email": "actor__email",
    "old_values": "old_values",
    "new_values": "new_values",
}


def history_rows(filters: HistoryFilters) -> QuerySet[RolePermissionHistory, tuple[Any, ...]]:
    """The rows of the page ``filters`` asks for (one more than the page, to see if more follow),
    as tuples of ``ENTRY_COLUMNS``."""
    limit = page_limit(filters.limit)
    rows = RolePermissionHistory.objects.order_by("-changed_at", "-id")
    if filters.user_id is not None:
        rows = rows.filter(user_id=filters.user_id)
    if filters.role_id is not None:
        rows = rows.filter(role_id=filters.role_id)
    if filters.operation is not None:
        rows = rows.filter(operation=filters.operation)
    if filters.since is not None:
        rows = rows.filter(changed_at__gte=filters.since)
    if filters.until is not None:
        rows = rows.filter(changed_at__lt=filters.until)
    if filters.cursor:
        at, pk = decode_cursor(filters.cursor, (dt.datetime, int))
        # The first condition bounds the index scan; the second breaks ties.
        rows = rows.filter(Q(changed_at__lte=at) & (Q(changed_at__lt=at) | Q(id__lt=pk)))
    return rows.values_list(*ENTRY_COLUMNS.values())[: limit + 1]


def history_page(filters: HistoryFilters) -> dict[str, Any]:
    """A page as plain data in the shape of ``HistoryPage``."""
    return keyset_page(
        history_rows(filters),
        limit=page_limit(filters.limit),
        item=_entry,
        cursor=lambda row: (row[1], row[0]),  # (changed_at, id)
    )


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(ENTRY_COLUMNS, row, strict=True))


@router.get("", response=HistoryPage, summary="The permission history, newest first")
def permission_history(request: HttpRequest, filters: Query[HistoryFilters]) -> HttpResponse:
    require(request, scope="history:read", permission=VIEW_HISTORY)
    return rendered(history_page(filters))
