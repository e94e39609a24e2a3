"""What happened, read-only: the permission history and the audit log (both sites).

Millions of rows: lists are not counted twice (``show_full_result_count``)
and, unfiltered, not counted at all (``EstimatedCountPaginator``); no filter
reads the whole table to draw itself.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.paginator import EmptyPage, Page, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from qiro.admin_sites import ReadOnlyAdmin, company_admin, platform_admin
from sysauth import display
from sysauth.models import RolePermissionHistory
from sysauth.models_audit import AuditAction, AuditEntry


class EstimatedCountPaginator(Paginator):
    """Pages of a list too long to count on every page view (the permission history).

    The admin counts its list on every page view to draw the page links; an
    exact ``COUNT(*)`` reads every row (about 0.3 s for three million). When
    the list is unfiltered (its query has no WHERE, DISTINCT, GROUP BY or set
    operation: no filter, search or date drill-down), this paginator takes the
    planner's row estimate of the table instead, ``pg_class.reltuples``, kept
    by (auto)ANALYZE, if it says at least ``ESTIMATE_FROM`` rows. A filtered
    list, a shorter table, or one never analysed is counted exactly.

    The table is the one the current ``search_path`` finds, the company's own,
    whose rows are all the company's: the estimate is of the rows the list
    shows, off by what changed since the last ANALYZE. Pages past the
    estimated end are served all the same (a low estimate leaves no row out of
    reach); a high one ends in a short or empty last page.
    """

    ESTIMATE_FROM = 100_000
    ESTIMATE_SQL = "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)"

    @cached_property
    def estimated(self) -> int | None:
        """The estimated row count, or None where the exact count is taken."""
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return None
        query = queryset.query
        if query.where or query.distinct or query.group_by is not None or query.combinator:
            return None
        connection = connections[queryset.db]
        table = connection.ops.quote_name(queryset.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(self.ESTIMATE_SQL, [table])
            row = cursor.fetchone()
        if row is None or row[0] is None or row[0] < self.ESTIMATE_FROM:
            return None
        return int(row[0])

    @cached_property
    def count(self) -> int:
        return super().count if self.estimated is None else self.estimated

    def validate_number(self, number: Any) -> int:
        try:
            return super().validate_number(number)
        except EmptyPage:
            if self.estimated is None or int(number) < 1:
                raise
            return int(number)  # past the estimated end

    def page(self, number: Any) -> Page:
        if self.estimated is None:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return Page(self.object_list[bottom : bottom + self.per_page], number, self)


@admin.register(RolePermissionHistory, site=company_admin)
class RolePermissionHistoryAdmin(ReadOnlyAdmin):
    """Read-only: the rows are written by the database trigger, never by hand."""

    list_display = (
        "changed_at", "operation", "table_shown", "role", "user", "permission_shown", "actor",
    )  # fmt: skip
    # No "by user" sidebar and no date hierarchy: both read every row of the
    # history on each page view (about 1 s and 0.7 s at three million rows).
    # Users are found by searching their e-mail; dates by the period filter,
    # which needs no query.
    list_filter = ("role", "operation", ("changed_at", admin.DateFieldListFilter))
    search_fields = ("user__email", "permission")
    list_select_related = ("role", "user", "actor")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # A change's page: its row of the list, then what the row held before and after.
    fields = (*list_display, "old_values", "new_values")

    @admin.display(description=_("what changed"), ordering="table_name")
    def table_shown(self, entry: RolePermissionHistory) -> str:
        return display.table_label(entry.table_name)

    @admin.display(description=_("permission"), ordering="permission")
    def permission_shown(self, entry: RolePermissionHistory) -> str:
        return display.permission_label(entry.permission) if entry.permission else "—"


class ActionFilter(admin.SimpleListFilter):
    """By action, from the declared list: drawing it reads no row."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(AuditAction.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(action=value) if value else queryset


class ActorFilter(admin.SimpleListFilter):
    """By who acted: the system, oneself, or an actor of the latest entries.

    The choices come from the newest ``RECENT`` entries (read through the index
    on the time), never from the whole log.
    """

    title = _("acting user")
    parameter_name = "acting_user"
    RECENT = 200
    SYSTEM = "system"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        recent = model_admin.get_queryset(request).order_by("-created_at", "-id")
        actors = dict(
            recent.exclude(acting_user_id=None).values_list("acting_user_id", "acting_email")[
                : self.RECENT
            ]
        )
        actors.setdefault(request.user.pk, getattr(request.user, "email", ""))
        choices: list[tuple[str, Any]] = [(self.SYSTEM, _("the system"))]
        choices += [(str(pk), email) for pk, email in sorted(actors.items(), key=lambda a: a[1])]
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if value == self.SYSTEM:
            return queryset.filter(acting_user_id=None)
        return queryset.filter(acting_user_id=int(value)) if value.isdigit() else queryset.none()


class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit log: every action's row, never added, changed or deleted here.

    On the platform site the platform's actions (public), on a company's site
    that company's own (its schema, its rows only). Filtered by action, actor,
    outcome and period; searched by the actor's e-mail and the target.
    """

    list_display = ("created_at", "action_name", "acting_email", "target_label", "outcome")
    list_filter = (
        ActionFilter,
        ActorFilter,
        "outcome",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("acting_email", "target_label", "target_id")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    fields = (
        "created_at",
        "action_name",
        "acting_user_id",
        "acting_email",
        "target_type",
        "target_id",
        "target_label",
        "outcome",
        "details",
    )

    @admin.display(description=_("action"), ordering="action")
    def action_name(self, entry: AuditEntry) -> str:
        return entry.action_label


company_admin.register(AuditEntry, AuditEntryAdmin)
platform_admin.register(AuditEntry, AuditEntryAdmin)
