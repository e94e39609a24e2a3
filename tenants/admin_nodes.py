"""The platform admin's view of a Citus cluster: each company's node, and moving it.

Shown only when the database is Citus: the company list gains the node that
holds each company's schema and its shard count (read from ``citus_schemas``
and ``citus_shards``; the size column is the refreshed figure, measured from
the shards), and the action "Move to node …", which queues a background
operation (``deployments.citus_move``) and opens its progress page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import connections
from django.db.models import QuerySet
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qiro.db.citus import connection_is_citus, schema_placements, worker_nodes
from qiro.tenant_context import current_alias
from tenants.models import Company

# Sent once per company the platform admin asks to move (kwargs: ``company_schema``,
# ``node`` 'host:port', ``requested_by``). The receiver queues the move and
# answers the URL of the page that follows it
# (``deployments.actions.queue_company_move``); tenants knows no operations.
move_requested = Signal()


def _cursor_alias() -> str:
    return current_alias()


class MoveForm(forms.Form):
    node = forms.ChoiceField(label=gettext_lazy("Node"))

    def __init__(self, *args: Any, nodes: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["node"].choices = [(n, n) for n in nodes]  # type: ignore[attr-defined]


class CitusNodesAdminMixin:
    """Node and shard columns and the move action, on Citus only."""

    def citus_columns(self, request: HttpRequest) -> tuple[Any, ...]:
        alias = _cursor_alias()
        if not connection_is_citus(alias):
            return ()
        with connections[alias].cursor() as cursor:  # one statement for the whole page
            placed = schema_placements(cursor)

        @admin.display(description=gettext_lazy("node"))
        def node(obj: Company) -> str:
            return placed[obj.schema_name][0] if obj.schema_name in placed else "—"

        @admin.display(description=gettext_lazy("shards"))
        def shards(obj: Company) -> int | str:
            return placed[obj.schema_name][1] if obj.schema_name in placed else "—"

        return (node, shards)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)  # type: ignore[misc]
        if not connection_is_citus(_cursor_alias()):
            actions.pop("move_to_node", None)
        return actions

    @admin.action(description=gettext_lazy("Move to node …"))
    def move_to_node(
        self, request: HttpRequest, queryset: QuerySet[Company]
    ) -> HttpResponse | None:
        if not request.user.is_superuser:
            messages.error(request, _("Only a platform superuser may move companies."))
            return None
        with connections[_cursor_alias()].cursor() as cursor:
            nodes = worker_nodes(cursor)
        form = MoveForm(request.POST if "confirm" in request.POST else None, nodes=nodes)
        if "confirm" in request.POST and form.is_valid():
            operations: list[str] = [
                str(url)
                for c in queryset
                for _receiver, url in move_requested.send(
                    sender=Company,
                    company_schema=c.schema_name,
                    node=form.cleaned_data["node"],
                    acting_user=request.user,
                    requested_by=getattr(request.user, "email", ""),
                )
                if url
            ]
            messages.info(
                request,
                _("%(count)d move(s) to %(node)s queued.")
                % {"count": len(operations), "node": form.cleaned_data["node"]},
            )
            if len(operations) == 1:
                return HttpResponseRedirect(operations[0])
            return None
        return TemplateResponse(
            request,
            "tenants/admin/confirm_move.html",
            {
                **self.admin_site.each_context(request),  # type: ignore[attr-defined]
                "title": _("Move companies to another node"),
                "companies": list(queryset),
                "form": form,
                "opts": Company._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "action": request.POST.get("action", ""),
            },
        )


def node_totals() -> list[tuple[str, int, int, int]] | None:
    """(node, companies, shards, bytes) per node for the monitoring page; None off Citus.

    Read as the owner, like the page's other per-schema figures: the shards'
    sizes are measured on the workers, where the platform role reads no schema.
    """
    from qiro.db import citus, pg

    with pg.connect() as conn, conn.cursor() as cursor:
        if not citus.is_citus(cursor):
            return None
        return citus.node_totals(cursor)
