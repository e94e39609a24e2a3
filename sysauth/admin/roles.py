"""Roles and role assignments in the company admin.

Configuration only: saving and deleting roles, assigning and removing them are
``sysauth.actions``, which keep the role hierarchy; a refused change shows as
a message and leaves nothing written (a bulk removal is one action).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from qiro.admin_actions import DeletedByActionAdmin
from qiro.admin_sites import company_admin
from sysauth import actions
from sysauth.audit import acting_user_of
from sysauth.models import Role, RolePermission, UserRole


def _count_per_role(model: type[RolePermission] | type[UserRole]) -> Coalesce:
    """How many rows of ``model`` name the outer query's role: a subquery column, 0 for none."""
    counted = (
        model.objects.filter(role=OuterRef("pk"))
        .order_by()
        .values("role")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


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
        codenames.choices = actions.permission_choices()
        if self.instance.pk:
            self.fields["codenames"].initial = list(
                self.instance.permissions.values_list("codename", flat=True)
            )


@admin.register(Role, site=company_admin)
class RoleAdmin(DeletedByActionAdmin):
    form = RolePermissionForm
    list_display = ("__str__", "name", "permission_count", "user_count")
    search_fields = ("name", "label")
    fields = ("name", "label", "description", "codenames")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Role]:
        # The list's two counts come with the roles (a subquery each), not two queries per role.
        return (
            super()
            .get_queryset(request)
            .annotate(
                listed_permission_count=_count_per_role(RolePermission),
                listed_user_count=_count_per_role(UserRole),
            )
        )

    @admin.display(description=_("permissions"))
    def permission_count(self, role: Role) -> int:
        counted = getattr(role, "listed_permission_count", None)
        return role.permissions.count() if counted is None else int(counted)

    @admin.display(description=_("users"))
    def user_count(self, role: Role) -> int:
        counted = getattr(role, "listed_user_count", None)
        return role.user_roles.count() if counted is None else int(counted)

    def save_model(self, request: HttpRequest, obj: Role, form: Any, change: bool) -> None:
        actions.save_role(
            role=obj,
            codenames=form.cleaned_data.get("codenames") or (),
            acting_user=acting_user_of(request),
        )

    def delete_by_action(self, request: HttpRequest, objects: list[Role]) -> None:
        actions.delete_roles(roles=objects, acting_user=acting_user_of(request))


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
class UserRoleAdmin(DeletedByActionAdmin):
    form = UserRoleForm
    list_display = ("user", "role", "assigned_by", "assigned_at")
    list_filter = ("role",)
    search_fields = ("user__email", "user__full_name")
    list_select_related = ("user", "role", "assigned_by")
    autocomplete_fields = ("user",)
    # A filtered list of a million assignments is counted once, not twice.
    show_full_result_count = False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # an assignment is added or removed, never edited

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        """The action stores the assignment; the admin carries on with it."""
        return actions.assign_role(
            user=form.cleaned_data["user"],
            role=form.cleaned_data["role"],
            acting_user=acting_user_of(request),
        )

    def save_model(self, request: HttpRequest, obj: UserRole, form: Any, change: bool) -> None:
        """Stored by the action ``save_form`` called."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """An assignment has no related rows of its own."""

    def delete_by_action(self, request: HttpRequest, objects: list[UserRole]) -> None:
        actions.unassign_roles(
            assignments=[(a.user, a.role) for a in objects], acting_user=acting_user_of(request)
        )

    def after_refused_delete(self, request: HttpRequest) -> str:
        """An assignment has no page worth returning to: back to the list."""
        return request.path.rsplit("/", 3)[0] + "/"
