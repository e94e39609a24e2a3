"""The two admin sites: the platform's (public host) and each company's."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _


class PlatformAdminSite(admin.AdminSite):
    site_header = _("QIRO platform administration")
    site_title = _("QIRO platform")
    index_title = _("Platform")


class CompanyAdminSite(admin.AdminSite):
    site_header = _("Company administration")
    site_title = _("QIRO")
    index_title = _("Your company")

    def has_permission(self, request: HttpRequest) -> bool:
        """Whoever's roles grant ``sysauth.use_company_admin`` (not ``is_staff``)."""
        user = request.user
        return bool(user.is_active and user.has_perm("sysauth.use_company_admin"))


platform_admin = PlatformAdminSite(name="platform_admin")
company_admin = CompanyAdminSite(name="company_admin")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by services or the database (history, operations): shown, never edited."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
