from django.contrib import admin

from qiro.admin_sites import company_admin, platform_admin
from sysauth.models import User


class UserAdmin(admin.ModelAdmin):
    list_display = ("email", "full_name", "user_type", "is_active", "is_staff", "date_joined")
    list_filter = ("user_type", "is_active", "is_staff")
    search_fields = ("email", "full_name")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")
    exclude = ("password",)


platform_admin.register(User, UserAdmin)
company_admin.register(User, UserAdmin)
