"""Shared by the company endpoints: lookups that 404 and how rows are shown."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models

from api.problems import ApiProblem
from sysauth.models import User

M = TypeVar("M", bound=models.Model)
MAX_ID = 2**63 - 1


def get_or_404(model: type[M], pk: int, **filters: Any) -> M:
    """A row of this company by id; another company's id is simply not found."""
    if not 0 < pk <= MAX_ID:
        raise ApiProblem("not-found")
    found = model._default_manager.filter(pk=pk, **filters).first()
    if found is None:
        raise ApiProblem("not-found")
    return found


def user_out(user: User, roles: list[str] | None = None) -> dict[str, Any]:
    if roles is None:
        roles = getattr(user, "role_names", None)
    if roles is None:
        roles = sorted(ur.role.name for ur in user.user_roles.select_related("role"))
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "user_type": user.user_type,
        "is_active": user.is_active,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
        "roles": list(roles),
    }
