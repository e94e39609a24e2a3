"""Roles, their permissions, their assignments, and the history of every change to them."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qiro.models import CompanyRecord
from sysauth.models.users import User, UserType, acting_user_column, composite_indexed_key
from sysauth.triggers import RECORD_ROLE_PERMISSIONS_CHANGE


def unique_with_company(*fields: str, name: str) -> models.UniqueConstraint:
    """Unique ``fields``, with ``company_id`` included in the index.

    Also the index that lists a role's permissions or a user's roles: with the
    policy's column in it, that is an index-only scan under row security.
    """
    return models.UniqueConstraint(fields=list(fields), include=["company_id"], name=name)


def history_reference(to: type[models.Model], verbose_name: Any) -> models.ForeignKey:
    """An id the history names, kept without a foreign-key constraint.

    The history outlives the users and roles it names.
    """
    return models.ForeignKey(
        to,
        verbose_name=verbose_name,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )


class Role(CompanyRecord):
    """A named set of permissions, assigned to users of the company."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"

    name = models.SlugField(_("name"), max_length=50)
    label = models.CharField(_("label"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["company_id", "name"], name="sysauth_role_unique_name")
        ]

    def __str__(self) -> str:
        # The default roles are named like the user types, translated.
        return str(self.label or dict(UserType.choices).get(self.name, self.name))


class RolePermission(CompanyRecord):
    """One permission (``app_label.codename``, as Django's ``has_perm`` takes it) of a role."""

    # The unique (role, codename) index serves it.
    role = composite_indexed_key(Role, _("role"), related_name="permissions")
    codename = models.CharField(_("permission"), max_length=150)

    # Writes the permission-change history (migration 0002); checked by `verify`.
    database_expectations = (RECORD_ROLE_PERMISSIONS_CHANGE,)

    class Meta:
        verbose_name = _("role permission")
        verbose_name_plural = _("role permissions")
        ordering = ["role", "codename"]
        constraints = [
            unique_with_company("role", "codename", name="sysauth_rolepermission_unique")
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.codename}"


class UserRole(CompanyRecord):
    """A role assigned to a user (written by ``sysauth.actions.assign_role``)."""

    # The unique (user, role) index serves ``user``; the (role, user) index ``role``.
    user = composite_indexed_key(User, _("user"), related_name="user_roles")
    role = composite_indexed_key(
        Role, _("role"), related_name="user_roles", on_delete=models.PROTECT
    )
    assigned_by = acting_user_column(_("assigned by"))
    assigned_at = models.DateTimeField(_("assigned"), default=timezone.now)

    database_expectations = (RECORD_ROLE_PERMISSIONS_CHANGE,)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        ordering = ["user", "role"]
        constraints = [unique_with_company("user", "role", name="sysauth_userrole_unique")]
        indexes = [models.Index(fields=["role", "user"], name="sysauth_userrole_by_role")]

    def __str__(self) -> str:
        return f"{self.user} · {self.role}"


class HistoryOperation(models.TextChoices):
    INSERT = "INSERT", _("Added")
    UPDATE = "UPDATE", _("Changed")
    DELETE = "DELETE", _("Removed")


class RolePermissionHistory(CompanyRecord):
    """Every change of role permissions and role assignments, append-only.

    Written only by the trigger ``record_role_permissions_change`` (migration
    0002), so raw SQL is recorded as well as the ORM. The ids are kept without
    foreign-key constraints: the history outlives the users and roles it names.
    The runtime roles may read and insert, never update or delete.
    """

    operation = models.CharField(_("operation"), max_length=6, choices=HistoryOperation.choices)
    table_name = models.CharField(_("table"), max_length=63)
    role = history_reference(Role, _("role"))
    user = history_reference(User, _("user"))
    permission = models.CharField(_("permission"), max_length=150, blank=True)
    old_values = models.JSONField(_("old values"), null=True)
    new_values = models.JSONField(_("new values"), null=True)
    actor = history_reference(User, _("changed by"))
    changed_at = models.DateTimeField(_("changed"), db_default=Now())

    # Append-only: qiro.db.roles grants the runtime roles exactly this.
    runtime_privileges = ("SELECT", "INSERT")

    class Meta:
        verbose_name = _("permission change")
        verbose_name_plural = _("permission history")
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-changed_at"], name="sysauth_history_user"),
            models.Index(fields=["role", "-changed_at"], name="sysauth_history_role"),
            models.Index(fields=["-changed_at"], name="sysauth_history_time"),
        ]

    def __str__(self) -> str:
        return f"{self.changed_at:%Y-%m-%d %H:%M} {self.get_operation_display()}"
