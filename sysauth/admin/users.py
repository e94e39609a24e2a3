"""Users in the company admin (with their roles and sessions shown), and platform staff.

Configuration only: creating, changing, deactivating and deleting users are
``sysauth.actions``; a refusal shows as a message (``ActionAdmin``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from qiro.admin_actions import DeletedByActionAdmin, error_text
from qiro.admin_display import QiroModelAdmin
from qiro.admin_sites import company_admin, platform_admin
from sysauth import actions, selectors
from sysauth.admin.sessions import ReadableSession
from sysauth.audit import acting_user_of
from sysauth.forms import UserCreateForm
from sysauth.models import Session, SessionStatus, User, UserRole, UserType


class PlatformUserAdmin(QiroModelAdmin):
    list_display = ("email", "full_name", "user_type", "is_active", "is_staff", "date_joined")
    list_filter = ("user_type", "is_active", "is_staff", "notify_operations")
    search_fields = ("email", "full_name")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")
    exclude = ("password",)


class UserRoleInline(admin.TabularInline):
    """Shown on the user page; assignments are changed under "role assignments"."""

    model = UserRole
    fk_name = "user"
    fields = ("role", "assigned_by", "assigned_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[UserRole]:
        # Role and assigner are shown on every row, and the user in its title
        # (``__str__``): joined, not fetched per row.
        return super().get_queryset(request).select_related("user", "role", "assigned_by")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SessionInline(ReadableSession, admin.TabularInline):
    model = Session
    fk_name = "user"
    fields = ("ip_address", "device", "signed_in", "last_seen", "expires")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("active sessions")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        # The user is in each row's title (``__str__``): joined, not fetched per row.
        return (
            super().get_queryset(request).filter(status=SessionStatus.ACTIVE).select_related("user")
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _count_message(request: HttpRequest, text: str, count: int) -> None:
    messages.success(request, text % {"count": count})


class UsersWithRoles(ChangeList):
    """The user list, with the page's roles in one more query for its users only.

    A correlated sub-select in the list's own query would also run for every
    row an OFFSET skips (110 ms on page 242 of 50,000 users). A later page
    reads its ids first (``selectors.page_by_ids``), then its rows.
    """

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        self.result_list = selectors.page_by_ids(self.result_list)
        selectors.name_roles_of_page(self.result_list)


# The default roles are named like the user types: shown by their (lazily translated) labels.
TYPE_LABELS = dict(UserType.choices)


@admin.register(User, site=company_admin)
class CompanyUserAdmin(DeletedByActionAdmin):
    list_display = ("email", "full_name", "roles", "is_active", "last_login", "date_joined")
    list_filter = ("is_active", "user_roles__role")
    search_fields = ("email", "full_name")
    ordering = ("email",)
    # A filtered or searched list of tens of thousands of users is counted once, not
    # twice. The count itself stays exact (a few ms for 50,000): actions show it.
    show_full_result_count = False
    fields = ("email", "full_name", "user_type", "is_active", "last_login", "date_joined")
    readonly_fields = ("is_active", "last_login", "date_joined")
    inlines = (UserRoleInline, SessionInline)
    actions = ("deactivate", "send_password_reset", "revoke_sessions")
    add_fieldsets = (
        (
            None,
            {"fields": ("email", "full_name", "user_type", "roles", "password1", "password2")},
        ),
    )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return UsersWithRoles

    @admin.display(description=_("roles"))
    def roles(self, user: User) -> str:
        names = getattr(user, "role_names", None)
        if names is None:
            names = selectors.roles_of(user=user)
        return ", ".join(str(TYPE_LABELS.get(name, name)) for name in names)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = UserCreateForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else ()

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        """The form's data go to the action; the admin carries on with the user it stored."""
        data = form.cleaned_data
        if change:
            return actions.update_user(
                user=form.instance,
                email=data["email"],
                full_name=data["full_name"],
                user_type=data["user_type"],
                acting_user=acting_user_of(request),
            )
        created = actions.create_user(
            email=data["email"],
            full_name=data["full_name"],
            password=data.get("password1") or None,
            user_type=data["user_type"],
            roles=data.get("roles") or (),
            acting_user=acting_user_of(request),
        )
        if not data.get("password1"):
            actions.send_password_reset_email(
                user=created, request=request, acting_user=acting_user_of(request)
            )
            messages.info(
                request,
                _("An e-mail was sent to %(email)s to choose a password.")
                % {"email": created.email},
            )
        return created

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        """Stored by the action ``save_form`` called."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Nothing to write: the inlines only show roles and sessions. Assignments change
        through the actions (role assignments), not through a formset posted here."""
        for formset in formsets:
            formset.save(commit=False)  # what the change message reads; nothing is written

    def delete_by_action(self, request: HttpRequest, objects: list[User]) -> None:
        actions.delete_users(users=objects, acting_user=acting_user_of(request))

    @admin.action(description=_("Deactivate the selected users (ends their sessions)"))
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        done = 0
        for user in queryset.filter(is_active=True):
            try:
                actions.deactivate_user(user=user, acting_user=acting_user_of(request))
            except ValidationError as error:
                messages.error(request, error_text(error))
            else:
                done += 1
        _count_message(
            request, ngettext("%(count)d user deactivated.", "%(count)d users deactivated.", done),
            done,
        )  # fmt: skip

    @admin.action(description=_("Send a password reset e-mail"))
    def send_password_reset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        sent = 0
        for user in queryset.filter(is_active=True):
            try:
                actions.send_password_reset_email(
                    user=user, request=request, acting_user=acting_user_of(request)
                )
            except ValidationError as error:
                messages.error(request, error_text(error))
            else:
                sent += 1
        _count_message(
            request, ngettext("%(count)d e-mail sent.", "%(count)d e-mails sent.", sent), sent
        )

    @admin.action(description=_("Sign the selected users out everywhere"))
    def revoke_sessions(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        ended = 0
        for user in queryset:
            try:  # the role hierarchy decides: no owner signed out by an admin
                ended += actions.revoke_user_sessions(
                    user=user, reason="revoked in the admin", acting_user=acting_user_of(request)
                )
            except ValidationError as error:
                messages.error(request, error_text(error))
        _count_message(
            request, ngettext("%(count)d session ended.", "%(count)d sessions ended.", ended),
            ended,
        )  # fmt: skip


platform_admin.register(User, PlatformUserAdmin)
