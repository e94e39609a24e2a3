from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from qiro.admin_sites import platform_admin
from tenants.models import Company, Domain


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0
    fields = ("domain", "is_primary")


@admin.register(Company, site=platform_admin)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "business_registration_number", "schema_name", "status", "created_at")
    list_filter = ("status", "plan")
    search_fields = ("name", "business_registration_number", "schema_name")
    date_hierarchy = "created_at"
    readonly_fields = ("schema_name", "created_at", "updated_at")
    inlines = [DomainInline]
    fieldsets = (
        (None, {"fields": ("name", "business_registration_number", "status", "plan")}),
        (_("Database"), {"fields": ("schema_name", "created_at", "updated_at")}),
    )
