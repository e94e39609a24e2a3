"""What the company actions share: their transaction and audit row, the actor, the owner guard."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from qiro import tenant_context
from sysauth import audit
from sysauth.models import Role, User, UserRole

Item = TypeVar("Item")


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


@dataclass(frozen=True)
class Action:
    """A company action under way: the alias its transaction writes and who acts."""

    using: str
    acting_user: User | None

    def record(self, action: str, **row: Any) -> None:
        """Its audit row (``sysauth.audit.record``), in its transaction, naming its actor."""
        audit.record(using=self.using, action=action, acting_user=self.acting_user, **row)


@contextlib.contextmanager
def company_action(acting_user: User | None, *, history_actor: bool = True) -> Iterator[Action]:
    """One durable transaction on the context's alias for the body, which records its audit row.

    ``history_actor``: the permission history records ``acting_user`` for the
    body's writes (``acting_as``); actions that change no role or assignment
    leave the context's actor alone.
    """
    using = alias()
    actor = acting_as(acting_user) if history_actor else contextlib.nullcontext()
    with actor, transaction.atomic(using=using, durable=True):
        yield Action(using=using, acting_user=acting_user)


def delete_recorded(action: Action, audit_action: str, row: User | Role) -> None:
    """Delete ``row``, recorded as ``audit_action``: through a query, so that the
    caller's instance keeps its id if all is undone."""
    action.record(audit_action, target=row)
    type(row)._default_manager.filter(pk=row.pk).delete()


def all_or_none(
    items: Iterable[Item], change: Callable[[Item, Action], None], *, acting_user: User | None
) -> int:
    """Several changes as one action: ``change`` on each item, each writing its own audit row;
    a refusal of any undoes them all. Returns how many were made."""
    with company_action(acting_user) as action:
        chosen = list(items)
        for item in chosen:
            change(item, action)
    return len(chosen)


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
