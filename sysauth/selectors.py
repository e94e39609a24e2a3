"""Reads on users, roles and sessions that the views and the admin share."""

from __future__ import annotations

import datetime as dt

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Prefetch, QuerySet
from django.utils import timezone

from sysauth.models import (
    Role,
    RolePermission,
    RolePermissionHistory,
    Session,
    SessionStatus,
    User,
    UserRole,
)


def active_sessions_of(*, user: User) -> QuerySet[Session]:
    """The user's sessions that can still be used, most recently seen first."""
    return Session.objects.filter(
        user=user, status=SessionStatus.ACTIVE, expires_at__gt=timezone.now()
    ).order_by("-last_seen_at")


def roles_of(*, user: User) -> list[str]:
    """Names of the user's roles (the hot path of permission checks)."""
    return list(
        Role.objects.filter(user_roles__user=user).order_by("name").values_list("name", flat=True)
    )


def roles_and_permissions(*, user: User) -> tuple[list[str], set[str]]:
    """The names of the user's roles, sorted, and their roles' permissions: one query."""
    rows = UserRole.objects.filter(user=user).values_list(
        "role__name", "role__permissions__codename"
    )
    return sorted({name for name, _ in rows}), {codename for _, codename in rows if codename}


def users_with_role(*, role: Role) -> QuerySet[User]:
    return User.objects.filter(user_roles__role=role)


# The roles of a page of users, in one query for the page (``prefetch_related``).
ROLES_PREFETCH = Prefetch("user_roles", queryset=UserRole.objects.select_related("role"))


def role_names() -> ArraySubquery:
    """The sorted names of the outer user's roles, as an annotation.

    A correlated ``ARRAY(SELECT ...)`` per user rather than a GROUP BY over the
    join: the first page of users ordered by e-mail is read from the e-mail
    index and only that page's roles are looked up, whatever the company's
    size, in one query. Not for OFFSET pages: PostgreSQL computes the
    sub-select for the rows an OFFSET skips too; page with ``ROLES_PREFETCH``
    (as the company admin does) or by keyset instead.
    """
    return ArraySubquery(
        Role.objects.filter(user_roles__user=OuterRef("pk")).order_by("name").values("name")
    )


def users_with_roles() -> QuerySet[User]:
    """Users with the sorted names of their roles as ``role_names``, in one query."""
    return User.objects.annotate(role_names=role_names())


def recent_permission_changes(*, days: int = 30) -> QuerySet[RolePermissionHistory]:
    """The last ``days`` days of permission history, newest first, with the user,
    role and actor joined and the role's current permissions as ``role_permissions``."""
    since = timezone.now() - dt.timedelta(days=days)
    permissions = (
        RolePermission.objects.filter(role=OuterRef("role_id"))
        .order_by("codename")
        .values("codename")
    )
    return (
        RolePermissionHistory.objects.filter(changed_at__gte=since)
        .select_related("user", "role", "actor")
        .annotate(role_permissions=ArraySubquery(permissions))
        .order_by("-changed_at", "-id")
    )
