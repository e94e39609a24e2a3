"""Sessions in the company admin: the list, and ending sessions after a confirmation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from qiro.admin_actions import error_text
from qiro.admin_confirm import confirmation_page, is_confirmed
from qiro.admin_display import QiroModelAdmin
from qiro.admin_sites import company_admin
from sysauth import actions, display
from sysauth.audit import acting_user_of
from sysauth.models import Session


def _time_column(field: str, description: Any) -> Callable[[Any, Session], str]:
    """A column showing the session's ``field`` as people read a time, sorted by it."""

    @admin.display(description=description, ordering=field)
    def column(admin_self: Any, session: Session) -> str:
        return display.readable_time(getattr(session, field))

    return column


class ReadableSession:
    """A session's device as "Chrome 131 · Windows" and its times as people read them."""

    @admin.display(description=_("device"), ordering="user_agent")
    def device(self, session: Session) -> str:
        return display.device_label(session.user_agent)

    signed_in = _time_column("created_at", _("signed in"))
    last_seen = _time_column("last_seen_at", _("last seen"))
    expires = _time_column("expires_at", _("expires"))


def _described(session: Session, current_pk: int | None) -> str:
    parts = [
        str(session.user or "-"),
        display.device_label(session.user_agent),
        session.ip_address or "-",
        display.readable_time(session.last_seen_at),
    ]
    label = " · ".join(parts)
    return f"{label} ({_('This session')})" if session.pk == current_pk else label


@admin.register(Session, site=company_admin)
class SessionAdmin(ReadableSession, QiroModelAdmin):
    list_display = ("user", "status", "ip_address", "device", "last_seen", "expires")

    def get_list_display(self, request: HttpRequest) -> Any:
        """The device column marks the session of the person looking at the list."""
        current_pk = getattr(request.session, "record_pk", None)

        @admin.display(description=_("device"), ordering="user_agent")
        def device(session: Session) -> str:
            label = display.device_label(session.user_agent)
            return f"{label} ({_('This session')})" if session.pk == current_pk else label

        return tuple(device if name == "device" else name for name in self.list_display)

    # A user is found by searching the e-mail: a "by user" sidebar would list
    # every signed-in user of the company (tens of thousands) on each page view.
    list_filter = ("status",)
    search_fields = ("user__email", "ip_address")
    list_select_related = ("user", "revoked_by")
    show_full_result_count = False
    fields = (
        "user",
        "status",
        "ip_address",
        "device",
        "user_agent",
        "signed_in",
        "last_seen",
        "expires",
        "ended_at",
        "revoked_by",
        "revoked_reason",
    )
    readonly_fields = fields
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("End the selected sessions"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Session]) -> TemplateResponse | None:
        if not is_confirmed(request):  # first the question, naming the devices
            sessions = list(queryset.select_related("user"))
            current_pk = getattr(request.session, "record_pk", None)
            return confirmation_page(
                self,
                request,
                title=_("End the selected sessions"),
                intro=_("These sessions will be signed out at their next request:"),
                items=[_described(session, current_pk) for session in sessions],
                selected=[session.pk for session in sessions],
                confirm_label=_("Yes, sign them out"),
            )
        ended, acting_user = 0, acting_user_of(request)
        for session in queryset.select_related("user"):
            try:  # the role hierarchy decides, as over the API: no owner's session for an admin
                ended += actions.revoke_session(
                    session=session, reason="revoked in the admin", acting_user=acting_user
                )
            except ValidationError as error:
                messages.error(request, error_text(error))
        messages.success(
            request,
            ngettext("%(count)d session ended.", "%(count)d sessions ended.", ended)
            % {"count": ended},
        )
        return None
