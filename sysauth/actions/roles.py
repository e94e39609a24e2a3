"""Actions on a company's roles and role assignments.

Each runs as the runtime role in the company's context, in one durable
transaction on the context's alias, with its audit row; the role hierarchy
(``sysauth.hierarchy``) is checked inside that transaction. Changes to role
permissions and assignments are also recorded by the database trigger
``record_role_permissions_change``, with the actor set here.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from sysauth import hierarchy
from sysauth.actions.base import (
    Action,
    active_owner_count,
    all_or_none,
    already_has,
    company_action,
    delete_recorded,
    lock_owner_role,
)
from sysauth.hierarchy import DEFAULT_ROLES
from sysauth.models import Role, RolePermission, User, UserRole
from sysauth.models_audit import AuditAction, AuditOutcome


def create_default_roles() -> dict[str, Role]:
    """The owner, admin and member roles, made if missing (inside the caller's transaction)."""
    roles: dict[str, Role] = {}
    for name, (label, codenames) in DEFAULT_ROLES.items():
        role, created = Role.objects.get_or_create(name=name, defaults={"label": label})
        if created:
            RolePermission.objects.bulk_create(
                [RolePermission(role=role, codename=c) for c in codenames]
            )
        roles[name] = role
    return roles


def ensure_default_roles(*, acting_user: User | None) -> dict[str, Role]:
    """Create the owner, admin and member roles with their permissions if missing.

    Existing roles are left as the company changed them. The audit row lists
    the roles made (none: outcome ``unchanged``).
    """
    with company_action(acting_user) as action:
        before = set(Role.objects.filter(name__in=DEFAULT_ROLES).values_list("name", flat=True))
        roles = create_default_roles()
        made = sorted(set(roles) - before)
        action.record(
            AuditAction.DEFAULT_ROLES,
            target_type="sysauth.role",
            outcome=AuditOutcome.DONE if made else AuditOutcome.UNCHANGED,
            details={"created": made},
        )
    return roles


def assign_role(*, user: User, role: Role, acting_user: User | None) -> UserRole:
    """Give ``user`` the role ``role``.

    Refused: a second assignment of the same role, a user the acting user may
    not manage, and a role reaching beyond the acting user (the owner role for
    non-owners, or permissions they do not hold).
    """
    with company_action(acting_user) as action:
        hierarchy.ensure_may_manage(acting_user=acting_user, user=user)
        hierarchy.ensure_may_grant_role(acting_user=acting_user, role=role)
        if UserRole.objects.filter(user=user, role=role).exists():
            raise already_has(user, role)
        try:
            with transaction.atomic(using=action.using):
                assignment = UserRole.objects.create(user=user, role=role, assigned_by=acting_user)
        except IntegrityError as error:  # a concurrent assignment won the race
            raise already_has(user, role) from error
        action.record(AuditAction.ROLE_ASSIGN, target=user, details={"role": role.name})
    return assignment


def _unassign(assignment: tuple[User, Role], action: Action) -> None:
    user, role = assignment
    hierarchy.ensure_may_manage(acting_user=action.acting_user, user=user)
    if role.name == Role.OWNER:
        lock_owner_role()
        if user.is_active and active_owner_count(role) <= 1:
            raise ValidationError(
                {
                    "role": _(
                        "The company must keep at least one owner. Make another user owner first."
                    )
                }
            )
    deleted, _details = UserRole.objects.filter(user=user, role=role).delete()
    if not deleted:
        raise ValidationError(
            {
                "role": _("%(user)s does not have the role “%(role)s”.")
                % {"user": user, "role": role}
            }
        )
    action.record(AuditAction.ROLE_UNASSIGN, target=user, details={"role": role.name})


def unassign_role(*, user: User, role: Role, acting_user: User | None) -> None:
    """Take the role away from a user the acting user may manage (owners only by owners);
    the last active owner keeps the owner role."""
    unassign_roles(assignments=[(user, role)], acting_user=acting_user)


def unassign_roles(*, assignments: Iterable[tuple[User, Role]], acting_user: User | None) -> int:
    """Several removals as one: a refusal of any undoes them all. One audit row each."""
    return all_or_none(assignments, _unassign, acting_user=acting_user)


def _set_permissions(
    *, role: Role, wanted: set[str], acting_user: User | None
) -> dict[str, list[str]]:
    """Make the role's permissions exactly ``wanted``; returns what was added and removed."""
    stored = Role.objects.select_for_update().get(pk=role.pk)
    hierarchy.ensure_may_change_role(acting_user=acting_user, stored=stored, new_name=stored.name)
    current = set(RolePermission.objects.filter(role=role).values_list("codename", flat=True))
    if wanted == current:
        return {"added": [], "removed": []}
    hierarchy.ensure_may_add_permissions(acting_user=acting_user, codenames=wanted - current)
    RolePermission.objects.filter(role=role, codename__in=current - wanted).delete()
    RolePermission.objects.bulk_create(
        [RolePermission(role=role, codename=c) for c in sorted(wanted - current)]
    )
    return {"added": sorted(wanted - current), "removed": sorted(current - wanted)}


def set_role_permissions(*, role: Role, codenames: Iterable[str], acting_user: User | None) -> None:
    """Make the role's permissions exactly ``codenames`` (added and removed rows are recorded).

    Added permissions must exist and be held by the acting user; the owner
    role's permissions are changed by owners only.
    """
    with company_action(acting_user) as action:
        changes = _set_permissions(role=role, wanted=set(codenames), acting_user=acting_user)
        action.record(
            AuditAction.ROLE_PERMISSIONS,
            target=role,
            outcome=AuditOutcome.DONE if any(changes.values()) else AuditOutcome.UNCHANGED,
            details=changes,
        )


def save_role(*, role: Role, codenames: Iterable[str], acting_user: User | None) -> Role:
    """Create or change a role (name, label, description) and set its permissions, as one change.

    Refused: a name another role has, the name ``owner`` for any other role,
    renaming the owner role, changing it unless an owner, and permissions the
    acting user does not hold.
    """
    with company_action(acting_user) as action:
        stored = Role.objects.select_for_update().filter(pk=role.pk).first() if role.pk else None
        hierarchy.ensure_may_change_role(acting_user=acting_user, stored=stored, new_name=role.name)
        taken = _("A role named “%(name)s” already exists.") % {"name": role.name}
        if Role.objects.filter(name=role.name).exclude(pk=role.pk).exists():
            raise ValidationError({"name": taken})
        try:
            with transaction.atomic(using=action.using):
                role.save()
        except IntegrityError as error:  # a concurrent role took the name
            raise ValidationError({"name": taken}) from error
        changes = _set_permissions(role=role, wanted=set(codenames), acting_user=acting_user)
        action.record(
            AuditAction.ROLE_SAVE,
            target=role,
            details={"created": stored is None, "name": role.name, **changes},
        )
    return role


def _delete(role: Role, action: Action) -> None:
    if role.name == Role.OWNER:
        raise ValidationError(_("The owner role cannot be deleted."))
    if UserRole.objects.filter(role=role).exists():
        raise ValidationError(
            _("The role “%(role)s” is still assigned. Remove its assignments first.")
            % {"role": role}
        )
    delete_recorded(action, AuditAction.ROLE_DELETE, role)


def delete_role(*, role: Role, acting_user: User | None) -> None:
    """Delete a role nobody holds; the owner role is never deleted."""
    delete_roles(roles=[role], acting_user=acting_user)


def delete_roles(*, roles: Iterable[Role], acting_user: User | None) -> int:
    """Several deletions as one: a refusal of any undoes them all. One audit row each."""
    return all_or_none(roles, _delete, acting_user=acting_user)
