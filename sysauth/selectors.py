"""Reads on users, roles and sessions that the views and the admin share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import BooleanField, Expression, F, OuterRef, QuerySet, Value
from django.utils import timezone

from qiro.db.compiled import OneValueQuery
from sysauth import backends
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


# Read by every ``me``: compiled once (qiro.db.compiled).
_ROLES_AND_PERMISSIONS = OneValueQuery(
    UserRole,
    lambda user_id: (
        UserRole.objects.filter(user_id=user_id)
        .order_by()  # no join for the model's ordering: the names are sorted here
        .values_list("role__name", "role__permissions__codename")
    ),
)


def roles_and_permissions(*, user: User) -> tuple[list[str], set[str]]:
    """The names of the user's roles, sorted, and their roles' permissions: one query."""
    rows = _ROLES_AND_PERMISSIONS.rows(user.pk)
    return sorted({name for name, _ in rows}), {codename for _, codename in rows if codename}


def request_roles_and_permissions(*, user: User) -> tuple[list[str], set[str]]:
    """The signed-in user's roles and permissions: those read with the user, in the
    statement that read the request's token or session (``sysauth.tokens``,
    ``sysauth.sessions.db``), else read now (``roles_and_permissions``)."""
    names = getattr(user, backends.ROLE_NAMES, None)
    if names is None:
        return roles_and_permissions(user=user)
    return names, getattr(user, backends.PERMISSION_CACHE)


def users_with_role(*, role: Role) -> QuerySet[User]:
    return User.objects.filter(user_roles__role=role)


def page_by_ids(page: QuerySet[User] | list[User]) -> list[User]:
    """A page of users: past the first, its ids first, then its rows by id.

    An OFFSET has PostgreSQL read every row it skips: with the rows' columns
    that is a heap fetch each (8 ms for page 242 of 50,000 users), with only
    the ids an index-only scan of the e-mail order (``sysauth_user_email_page``
    holds the id and the company id that row security checks). The second
    query reads the page's 100 rows by their primary key, in the page's order.
    """
    if not isinstance(page, QuerySet) or not page.query.low_mark:
        return list(page)
    ids = list(page.values_list("pk", flat=True))
    whole = page.all()  # a copy of the list's own query (its joins and columns), unsliced
    whole.query.clear_limits()
    rows = whole.in_bulk(ids)
    return [rows[pk] for pk in ids if pk in rows]


def name_roles_of_page(users: list[User]) -> None:
    """Set ``role_names`` (sorted) on each user of a page, from one query for the page.

    No assignment and role objects are built per row (``prefetch_related``
    would): on a page of 100 users they cost more than the query. The ids go
    as one array (``= ANY``), not as a hundred parameters that ``__in`` prepares
    one by one.
    """
    names: dict[int, list[str]] = {user.pk: [] for user in users}
    of_page = IsAnyOf(F("user_id"), Value(list(names)))
    pairs = UserRole.objects.filter(of_page).values_list("user_id", "role__name")
    for user_id, name in pairs.order_by("role__name"):
        names[user_id].append(name)
    for user in users:
        user.role_names = names[user.pk]  # type: ignore[attr-defined]


class IsAnyOf(Expression):
    """``value = ANY(array)``: whether ``value`` is an element of ``array``, as a filter."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, value: Any, array: Any) -> None:
        super().__init__()
        self.value, self.array = value, array

    def get_source_expressions(self) -> list[Any]:
        return [self.value, self.array]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.value, self.array = exprs

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        value_sql, value_params = compiler.compile(self.value)
        array_sql, array_params = compiler.compile(self.array)
        return f"{value_sql} = ANY({array_sql})", (*value_params, *array_params)


def role_names() -> ArraySubquery:
    """The sorted names of the outer user's roles, as an annotation.

    A correlated ``ARRAY(SELECT ...)`` per user rather than a GROUP BY over the
    join: the first page of users ordered by e-mail is read from the e-mail
    index and only that page's roles are looked up, whatever the company's
    size, in one query. Not for OFFSET pages: PostgreSQL computes the
    sub-select for the rows an OFFSET skips too; name the page's roles with
    ``name_roles_of_page`` (as the company admin does) or page by keyset instead.

    The user's role ids are read first, from the assignment's ``(user_id,
    role_id)`` index, and the roles are then picked by ``id = ANY(...)``. A
    join would let the planner walk the company's roles in name order (the
    index row security's filter can use) and probe the assignments once per
    role: 32 probes a user instead of one (side by side at the ``large`` scale: 0.67 against
    0.55 ms for the first 100 of 48,485 users, as the runtime role).
    """
    assigned = UserRole.objects.filter(user=OuterRef(OuterRef("pk"))).order_by().values("role_id")
    of_user = IsAnyOf(F("pk"), ArraySubquery(assigned))
    return ArraySubquery(Role.objects.filter(of_user).order_by("name").values("name"))


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
