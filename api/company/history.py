"""``permission-history``: every change of role permissions and assignments, newest first.

Keyset-paginated on (changed_at, id): the next page starts below the last
row's pair, so PostgreSQL reads it from the time index (or the user's or the
role's index when filtered by them) from that point on, at any depth.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema

from api.auth import AUTH, require
from api.company.schemas import HistoryPage
from api.pagination import DEFAULT_LIMIT, decode_cursor, keyset_page, page_limit
from sysauth.models import HistoryOperation, RolePermissionHistory

router = Router(tags=["permission-history"], auth=AUTH)
VIEW_HISTORY = "sysauth.view_rolepermissionhistory"


class HistoryFilters(Schema):
    user_id: int | None = None
    role_id: int | None = None
    operation: HistoryOperation | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


def history_rows(filters: HistoryFilters) -> QuerySet[RolePermissionHistory]:
    """The rows of the page ``filters`` asks for (one more than the page, to see if more follow)."""
    limit = page_limit(filters.limit)
    rows = RolePermissionHistory.objects.select_related("user", "role", "actor").order_by(
        "-changed_at", "-id"
    )
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
    return rows[: limit + 1]


def history_page(filters: HistoryFilters) -> dict[str, Any]:
    return keyset_page(
        history_rows(filters),
        limit=page_limit(filters.limit),
        item=_entry,
        cursor=lambda h: (h.changed_at, h.pk),
    )


def _entry(h: RolePermissionHistory) -> dict[str, Any]:
    return {
        "id": h.pk,
        "changed_at": h.changed_at,
        "operation": h.operation,
        "table_name": h.table_name,
        "role_id": h.role_id,
        "role_name": h.role.name if h.role else None,
        "user_id": h.user_id,
        "user_email": h.user.email if h.user else None,
        "permission": h.permission,
        "actor_id": h.actor_id,
        "actor_email": h.actor.email if h.actor else None,
        "old_values": h.old_values,
        "new_values": h.new_values,
    }


@router.get("", response=HistoryPage, summary="The permission history, newest first")
def permission_history(request: HttpRequest, filters: Query[HistoryFilters]) -> dict[str, Any]:
    require(request, scope="history:read", permission=VIEW_HISTORY)
    return history_page(filters)
