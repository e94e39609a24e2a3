"""What the company actions share: the alias they write, the actor, the owner guard."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from qiro import tenant_context
from sysauth.models import Role, User, UserRole


def alias() -> str:
    """The runtime alias of the current context: where a company action writes."""
    return tenant_context.current_alias()


@contextlib.contextmanager
def acting_as(acting_user: User | None) -> Iterator[None]:
    """The permission history records ``acting_user`` for the writes of the body."""
    if acting_user is None:
        yield
        return
    previous = tenant_context.current_context().actor_id
    tenant_context.set_actor(acting_user.pk)
    try:
        yield
    finally:
        tenant_context.set_actor(previous)


def active_owner_count(owner_role: Role) -> int:
    return UserRole.objects.filter(role=owner_role, user__is_active=True).count()


def lock_owner_role() -> Role | None:
    """Serialise every change that could remove an owner (row lock on the role)."""
    return Role.objects.select_for_update().filter(name=Role.OWNER).first()


def refuse_removing_last_owner(user: User, message: str, *, unless_inactive: bool) -> None:
    """Raise ``message`` if ``user`` holds the owner role and at most one active owner is left.

    Locks the owner role first. ``unless_inactive``: an inactive user is no
    active owner, so removing them removes none.
    """
    owner_role = lock_owner_role()
    if (
        owner_role is not None
        and (user.is_active or not unless_inactive)
        and UserRole.objects.filter(user=user, role=owner_role).exists()
        and active_owner_count(owner_role) <= 1
    ):
        raise ValidationError(message % {"user": user})


def already_has(user: User, role: Role) -> ValidationError:
    return ValidationError(
        {"role": _("%(user)s already has the role “%(role)s”.") % {"user": user, "role": role}}
    )
