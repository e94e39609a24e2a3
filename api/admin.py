"""API tokens in the company admin: listed with filters and search, revoked after a question.

Read-only otherwise: tokens are issued over the API (``auth/sign-in`` or
``tokens``), shown once there. Seeing them takes the permission to view
users, revoking another user's token the permission to change users and the
right to manage that user (``sysauth.tokens.revoke_token``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from qiro.admin_sites import ReadOnlyAdmin, company_admin
from sysauth import tokens
from sysauth.models import User
from sysauth.models_tokens import ApiToken


class TokenStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("usable", _("Usable")), ("expired", _("Expired")), ("revoked", _("Revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> QuerySet[ApiToken]:
        now = timezone.now()
        if self.value() == "usable":
            return queryset.filter(revoked_at__isnull=True).filter(
                Q(expires_at__isnull=True) | Q(expires_at__gt=now)
            )
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken, site=company_admin)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Shown and revoked (an action with its audit row), never added or edited here."""

    list_display = (
        "name", "user", "prefix", "scopes", "created_at", "expires_at", "last_used_at",
        "revoked_at",
    )  # fmt: skip
    list_filter = (TokenStateFilter, "created_at")
    search_fields = ("name", "prefix", "user__email")
    list_select_related = ("user",)
    readonly_fields = (
        "name", "user", "prefix", "scopes", "created_at", "expires_at", "last_used_at",
        "revoked_at", "revoked_by", "revoked_reason",
    )  # fmt: skip
    exclude = ("secret_hash",)
    actions = ("revoke",)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("sysauth.view_user"))

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("sysauth.change_user"))

    @admin.action(description=_("Revoke the selected tokens"), permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> TemplateResponse | None:
        if "confirm" not in request.POST:
            return TemplateResponse(
                request,
                "api/admin/revoke_tokens_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "title": _("Revoke the selected tokens"),
                    "tokens": queryset.select_related("user"),
                    "opts": self.model._meta,
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )
        acting = request.user
        assert isinstance(acting, User), "the company admin serves signed-in users only"
        done = 0
        for token in queryset.select_related("user"):
            try:
                done += tokens.revoke_token(
                    token=token, acting_user=acting, reason="revoked in the admin"
                )
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
        messages.success(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", done)
            % {"count": done},
        )
        return None
