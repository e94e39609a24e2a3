"""The company admin (users, roles, assignments, sessions, history) and platform staff.

Configuration only; every write goes through ``sysauth.services``, which keep
the rules (last owner, duplicate assignments) and end sessions. What a person
may do here comes from their roles (``sysauth.backends.EmailBackend``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from qiro.admin_sites import ReadOnlyAdmin, company_admin, platform_admin
from sysauth import services
from sysauth.forms import (
    CompanyAdminAuthenticationForm,
    PlatformAdminAuthenticationForm,
    UserCreateForm,
)
from sysauth.models import (
    Role,
    RolePermissionHistory,
    Session,
    SessionStatus,
    User,
    UserRole,
)

# Sign-in on both admin sites is throttled (failures counted in the host's schema).
company_admin.login_form = CompanyAdminAuthenticationForm
platform_admin.login_form = PlatformAdminAuthenticationForm


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


class RefusalsAsMessages(admin.ModelAdmin):
    """A rule a service enforces (e.g. the last owner) shows as a message, not an error page."""

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as error:
            messages.error(request, _error_text(error))
            return HttpResponseRedirect(self.after_refused_delete(request))

    def after_refused_delete(self, request: HttpRequest) -> str:
        """Where a refused deletion lands: the object's page."""
        return request.path.rsplit("/delete/", 1)[0] + "/"

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        try:
            return super().changelist_view(request, extra_context)
        except ValidationError as error:
            messages.error(request, _error_text(error))
            return HttpResponseRedirect(request.get_full_path())


class PlatformUserAdmin(admin.ModelAdmin):
    list_display = ("email", "full_name", "user_type", "is_active", "is_staff", "date_joined")
    list_filter = ("user_type", "is_active", "is_staff")
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

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SessionInline(admin.TabularInline):
    model = Session
    fk_name = "user"
    fields = ("ip_address", "user_agent", "created_at", "last_seen_at", "expires_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("active sessions")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        return super().get_queryset(request).filter(status=SessionStatus.ACTIVE)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User, site=company_admin)
class CompanyUserAdmin(RefusalsAsMessages):
    list_display = ("email", "full_name", "is_active", "last_login", "date_joined")
    list_filter = ("is_active", "user_roles__role")
    search_fields = ("email", "full_name")
    ordering = ("email",)
    fields = ("email", "full_name", "user_type", "is_active", "last_login", "date_joined")
    readonly_fields = ("is_active", "last_login", "date_joined")
    inlines = (UserRoleInline, SessionInline)
    actions = ("deactivate", "send_password_reset", "revoke_sessions")

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = UserCreateForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return [
                (
                    None,
                    {
                        "fields": (
                            "email",
                            "full_name",
                            "user_type",
                            "roles",
                            "password1",
                            "password2",
                        )
                    },
                )
            ]
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if change:
            with services.acting_as(request.user):  # type: ignore[arg-type]
                obj.save()
            return
        created = services.create_user(
            email=obj.email,
            full_name=obj.full_name,
            password=form.cleaned_data.get("password1") or None,
            roles=form.cleaned_data.get("roles") or (),
            actor=request.user,  # type: ignore[arg-type]
        )
        if created.user_type != obj.user_type:
            User.objects.filter(pk=created.pk).update(user_type=obj.user_type)
        obj.pk = created.pk
        obj._state.adding = False
        obj._state.db = created._state.db
        if not form.cleaned_data.get("password1"):
            services.send_password_reset_email(user=created, request=request)
            messages.info(
                request,
                _("An e-mail was sent to %(email)s to choose a password.") % {"email": obj.email},
            )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        services.delete_user(user=obj, actor=request.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.delete_user(user=user, actor=request.user)  # type: ignore[arg-type]

    @admin.action(description=_("Deactivate the selected users (ends their sessions)"))
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        done = 0
        for user in queryset.filter(is_active=True):
            try:
                services.deactivate_user(user=user, actor=request.user)  # type: ignore[arg-type]
            except ValidationError as error:
                messages.error(request, _error_text(error))
            else:
                done += 1
        messages.success(
            request,
            ngettext("%(count)d user deactivated.", "%(count)d users deactivated.", done)
            % {"count": done},
        )

    @admin.action(description=_("Send a password reset e-mail"))
    def send_password_reset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        sent = 0
        for user in queryset.filter(is_active=True):
            services.send_password_reset_email(user=user, request=request)
            sent += 1
        messages.success(
            request,
            ngettext("%(count)d e-mail sent.", "%(count)d e-mails sent.", sent) % {"count": sent},
        )

    @admin.action(description=_("Sign the selected users out everywhere"))
    def revoke_sessions(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        ended = sum(
            services.revoke_user_sessions(
                user=user, reason="revoked in the admin", actor_id=request.user.pk
            )
            for user in queryset
        )
        messages.success(
            request,
            ngettext("%(count)d session ended.", "%(count)d sessions ended.", ended)
            % {"count": ended},
        )


class RolePermissionForm(forms.ModelForm):
    codenames = forms.MultipleChoiceField(
        label=_("permissions"), required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Role
        fields = ("name", "label", "description")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        codenames = self.fields["codenames"]
        assert isinstance(codenames, forms.MultipleChoiceField)
        codenames.choices = services.permission_choices()
        if self.instance.pk:
            self.fields["codenames"].initial = list(
                self.instance.permissions.values_list("codename", flat=True)
            )


@admin.register(Role, site=company_admin)
class RoleAdmin(RefusalsAsMessages):
    form = RolePermissionForm
    list_display = ("__str__", "name", "permission_count", "user_count")
    search_fields = ("name", "label")
    fields = ("name", "label", "description", "codenames")

    @admin.display(description=_("permissions"))
    def permission_count(self, role: Role) -> int:
        return role.permissions.count()

    @admin.display(description=_("users"))
    def user_count(self, role: Role) -> int:
        return role.user_roles.count()

    def save_model(self, request: HttpRequest, obj: Role, form: Any, change: bool) -> None:
        with services.acting_as(request.user):  # type: ignore[arg-type]
            obj.save()
        services.set_role_permissions(
            role=obj,
            codenames=form.cleaned_data.get("codenames") or (),
            actor=request.user,  # type: ignore[arg-type]
        )

    def delete_model(self, request: HttpRequest, obj: Role) -> None:
        services.delete_role(role=obj, actor=request.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Role]) -> None:
        for role in queryset:
            services.delete_role(role=role, actor=request.user)  # type: ignore[arg-type]


class UserRoleForm(forms.ModelForm):
    class Meta:
        model = UserRole
        fields = ("user", "role")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        user, role = cleaned.get("user"), cleaned.get("role")
        if user and role and UserRole.objects.filter(user=user, role=role).exists():
            raise ValidationError(
                {
                    "role": _("%(user)s already has the role “%(role)s”.")
                    % {"user": user, "role": role}
                }
            )
        return cleaned


@admin.register(UserRole, site=company_admin)
class UserRoleAdmin(RefusalsAsMessages):
    form = UserRoleForm
    list_display = ("user", "role", "assigned_by", "assigned_at")
    list_filter = ("role",)
    search_fields = ("user__email", "user__full_name")
    list_select_related = ("user", "role", "assigned_by")
    autocomplete_fields = ("user",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # an assignment is added or removed, never edited

    def save_model(self, request: HttpRequest, obj: UserRole, form: Any, change: bool) -> None:
        created = services.assign_role(user=obj.user, role=obj.role, actor=request.user)  # type: ignore[arg-type]
        obj.pk = created.pk
        obj._state.adding = False
        obj._state.db = created._state.db

    def delete_model(self, request: HttpRequest, obj: UserRole) -> None:
        services.unassign_role(user=obj.user, role=obj.role, actor=request.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[UserRole]) -> None:
        for assignment in queryset.select_related("user", "role"):
            services.unassign_role(
                user=assignment.user,
                role=assignment.role,
                actor=request.user,  # type: ignore[arg-type]
            )

    def after_refused_delete(self, request: HttpRequest) -> str:
        """An assignment has no page worth returning to: back to the list."""
        return request.path.rsplit("/", 3)[0] + "/"


@admin.register(Session, site=company_admin)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("user", "status", "ip_address", "user_agent", "last_seen_at", "expires_at")
    list_filter = ("status", ("user", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__email", "ip_address")
    list_select_related = ("user", "revoked_by")
    fields = (
        "user",
        "status",
        "ip_address",
        "user_agent",
        "created_at",
        "last_seen_at",
        "expires_at",
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
    def revoke(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        ended = sum(
            services.revoke_session(
                session=session, reason="revoked in the admin", actor_id=request.user.pk
            )
            for session in queryset
        )
        messages.success(
            request,
            ngettext("%(count)d session ended.", "%(count)d sessions ended.", ended)
            % {"count": ended},
        )


@admin.register(RolePermissionHistory, site=company_admin)
class RolePermissionHistoryAdmin(ReadOnlyAdmin):
    """Read-only: the rows are written by the database trigger, never by hand."""

    list_display = ("changed_at", "operation", "table_name", "role", "user", "permission", "actor")
    list_filter = (
        "role",
        ("user", admin.RelatedOnlyFieldListFilter),
        "operation",
        ("changed_at", admin.DateFieldListFilter),
    )
    search_fields = ("user__email", "permission")
    date_hierarchy = "changed_at"
    list_select_related = ("role", "user", "actor")
    readonly_fields = (
        "changed_at",
        "operation",
        "table_name",
        "role",
        "user",
        "permission",
        "actor",
        "old_values",
        "new_values",
    )
    fields = readonly_fields


platform_admin.register(User, PlatformUserAdmin)
