"""Who may use the platform API: active platform staff, by their roles, like the admin."""

from __future__ import annotations

from django.http import HttpRequest

from api.auth import require
from api.problems import ApiProblem
from sysauth.models import User


def require_staff(request: HttpRequest, *, scope: str, permission: str | None = None) -> User:
    user = require(request, scope=scope)
    if not (user.is_active and user.is_staff):
        raise ApiProblem("forbidden")
    if permission is not None and not user.has_perm(permission):
        raise ApiProblem("forbidden")
    return user


def require_superuser(request: HttpRequest, *, scope: str) -> User:
    """Operations on the whole database: superusers only, as in the admin."""
    user = require_staff(request, scope=scope)
    if not user.is_superuser:
        raise ApiProblem("forbidden")
    return user
