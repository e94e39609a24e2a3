"""The two admin sites: the platform's (public host) and each company's."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class PlatformAdminSite(admin.AdminSite):
    site_header = _("QIRO platform administration")
    site_title = _("QIRO platform")
    index_title = _("Platform")


class CompanyAdminSite(admin.AdminSite):
    site_header = _("Company administration")
    site_title = _("QIRO")
    index_title = _("Your company")


platform_admin = PlatformAdminSite(name="platform_admin")
company_admin = CompanyAdminSite(name="company_admin")
