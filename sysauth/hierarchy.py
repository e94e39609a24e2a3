"""Who may change whom inside a company: the role hierarchy the actions enforce.

Two rules, checked by ``sysauth.actions`` whatever the entry point (company
admin, a future API, commands):

* **Only an owner touches an owner.** Granting or removing the owner role,
  changing an owner's e-mail, name, type, active flag or roles, sending them a
  password reset and deleting them are for owners only; the owner role itself
  (its name, its permissions) too.
* **Nobody grants what they do not hold.** A role assigned to anyone (oneself
  included), a role created, a permission added to a role: each carries only
  permissions the acting user holds. Likewise nobody manages a user who holds
  a permission they lack: taking over that account (its e-mail, then a reset)
  would be the same escalation.

An owner is a user with the owner role, or a superuser (who holds every
permission). What a user holds is read from the database inside the service's
transaction, never from the per-request cache of ``has_perm``: a role taken
away a moment ago counts as gone. ``acting_user=None`` is the system
(provisioning, management commands) where no person acts: nothing is checked.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from django.apps import apps
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from qiro.app_labels import tenant_app_labels
from sysauth import display
from sysauth.backends import role_permissions_of
from sysauth.models import Role, User, UserRole, UserType

ADMIN_ACCESS = "sysauth.use_company_admin"


def _perms(**actions: tuple[str, ...]) -> list[str]:
    return [f"sysauth.{a}_{model}" for model, names in actions.items() for a in names]


ALL = ("view", "add", "change", "delete")
# The roles every company starts with: name -> (label, permission codenames).
# An empty label shows the translated user type of the same name.
DEFAULT_ROLES: dict[str, tuple[str, list[str]]] = {
    Role.OWNER: (
        "",
        [
            ADMIN_ACCESS,
            *_perms(
                user=ALL,
                role=ALL,
                rolepermission=ALL,
                userrole=ALL,
                session=("view", "change"),
                rolepermissionhistory=("view",),
                auditentry=("view",),
            ),
        ],
    ),
    Role.ADMIN: (
        "",
        [
            ADMIN_ACCESS,
            *_perms(
                user=("view", "add", "change"),
                role=("view",),
                rolepermission=("view",),
                userrole=("view", "add", "delete"),
                session=("view", "change"),
                rolepermissionhistory=("view",),
                auditentry=("view",),
            ),
        ],
    ),
    Role.MEMBER: ("", []),
}


class EscalationRefused(ValidationError):
    """The acting user may not do this: it would reach rights they do not hold.

    A ``ValidationError``, so forms and the admin show its translated message
    like any other refused input.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, code="escalation")


def permission_choices() -> list[tuple[str, str]]:
    """The permissions a role can hold: those of the company apps' models."""
    labels = tenant_app_labels()
    permissions = Permission.objects.filter(content_type__app_label__in=labels).select_related(
        "content_type"
    )
    codes = ((f"{p.content_type.app_label}.{p.codename}", p.name) for p in permissions)
    return sorted(
        ((code, display.permission_label(code, name)) for code, name in codes),
        key=lambda choice: display.permission_order(choice[0]),
    )


@functools.cache
def permission_codes() -> frozenset[str]:
    """The codes of ``permission_choices``, from the models themselves: no query.

    ``migrate`` makes a permission row for each model's default actions and
    ``Meta.permissions``; the code running here defines those, so the set is
    fixed for the life of the process. A superuser's every request asks for it
    (``held_permissions``), where reading and naming the rows cost milliseconds.
    """
    codes: set[str] = set()
    for label in tenant_app_labels():
        for model in apps.get_app_config(label).get_models():
            opts = model._meta
            actions = [f"{action}_{opts.model_name}" for action in opts.default_permissions]
            codes.update(f"{opts.app_label}.{codename}" for codename in actions)
            codes.update(f"{opts.app_label}.{codename}" for codename, _name in opts.permissions)
    return frozenset(codes)


def _listed(codenames: Iterable[str]) -> str:
    return ", ".join(sorted(codenames))


def is_owner(user: User) -> bool:
    """Whether ``user`` holds the owner role or is a superuser (active or not).

    The active flag is left out on purpose: a deactivated owner is still
    protected, or anyone could change their e-mail and wait for a reactivation.
    """
    return user.is_superuser or UserRole.objects.filter(user=user, role__name=Role.OWNER).exists()


def _acts_as_owner(acting_user: User) -> bool:
    return acting_user.is_active and is_owner(acting_user)


def held_permissions(user: User, *, of_roles: set[str] | None = None) -> set[str]:
    """Every permission ``user`` holds now: all of them for a superuser, else their roles'.

    ``of_roles``: the roles' permissions when the caller has just read them.
    """
    if user.is_superuser:
        return set(permission_codes())
    return role_permissions_of(user) if of_roles is None else of_roles


def _acting_holds(acting_user: User) -> set[str]:
    return held_permissions(acting_user) if acting_user.is_active else set()


def ensure_may_manage(*, acting_user: User | None, user: User) -> None:
    """Refuse unless ``acting_user`` may change, deactivate or delete ``user`` or their roles.

    Owners may manage anyone; others neither an owner nor a user holding a
    permission they lack.
    """
    if acting_user is None or _acts_as_owner(acting_user):
        return
    if is_owner(user):
        raise EscalationRefused(
            _(
                "%(user)s is an owner: only an owner can change, deactivate or delete them, "
                "or change their roles."
            )
            % {"user": user}
        )
    lacking = held_permissions(user) - _acting_holds(acting_user)
    if lacking:
        raise EscalationRefused(
            _(
                "%(user)s holds permissions you do not have (%(permissions)s). Ask an owner "
                "to make this change."
            )
            % {"user": user, "permissions": _listed(lacking)}
        )


def ensure_may_add_permissions(*, acting_user: User | None, codenames: Iterable[str]) -> None:
    """Refuse permissions that do not exist, and any the acting user does not hold."""
    wanted = set(codenames)
    unknown = wanted - permission_codes()
    if unknown:
        raise ValidationError(
            _("Unknown permissions: %(permissions)s.") % {"permissions": _listed(unknown)},
            code="unknown_permission",
        )
    if acting_user is None:
        return
    lacking = wanted - _acting_holds(acting_user)
    if lacking:
        raise EscalationRefused(
            _("You cannot grant permissions you do not hold yourself: %(permissions)s.")
            % {"permissions": _listed(lacking)}
        )


def ensure_may_grant_role(*, acting_user: User | None, role: Role) -> None:
    """Refuse to assign a role that reaches beyond the acting user.

    The owner role is for owners to give (taking it away is managing an
    owner: ``ensure_may_manage``); any other role may carry only permissions
    the acting user holds.
    """
    if acting_user is None:
        return
    if role.name == Role.OWNER:
        if not _acts_as_owner(acting_user):
            raise EscalationRefused(_("Only an owner can grant or remove the owner role."))
        return
    lacking = set(role.permissions.values_list("codename", flat=True)) - _acting_holds(acting_user)
    if lacking:
        raise EscalationRefused(
            _(
                "The role “%(role)s” carries permissions you do not hold yourself "
                "(%(permissions)s), so you cannot assign it."
            )
            % {"role": role, "permissions": _listed(lacking)}
        )


def ensure_may_set_user_type(*, acting_user: User | None, old: str | None, new: str) -> None:
    """The owner user type is for owners to give or take: ``ensure_default_roles`` reads it
    to find a company's owners. ``old`` is None for a new user."""
    if acting_user is None or old == new or UserType.OWNER not in (old, new):
        return
    if not _acts_as_owner(acting_user):
        raise EscalationRefused(_("Only an owner can give or take away the owner user type."))


def ensure_may_change_role(*, acting_user: User | None, stored: Role | None, new_name: str) -> None:
    """The owner role keeps its name and only owners change it; no other role becomes “owner”.

    ``stored`` is the role as it is in the database, None for a new role. The
    name ``owner`` is how the actions find the owner role (the last-owner
    guard), so it is made only by ``ensure_default_roles``, never by a person.
    """
    if stored is not None and stored.name == Role.OWNER:
        if acting_user is not None and not _acts_as_owner(acting_user):
            raise EscalationRefused(_("Only an owner can change the owner role."))
        if new_name != Role.OWNER:
            raise ValidationError(_("The owner role keeps its name."), code="owner_role_name")
        return
    if new_name == Role.OWNER:
        raise EscalationRefused(_("Only the company's own owner role may be named “owner”."))
