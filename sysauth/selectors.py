"""Reads on users, roles and sessions that the views and the admin share."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from sysauth.models import Role, Session, SessionStatus, User


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


def users_with_role(*, role: Role) -> QuerySet[User]:
    return User.objects.filter(user_roles__role=role)
