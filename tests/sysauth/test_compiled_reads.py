"""The per-request reads of roles and permissions, compiled once, answer what the ORM answers
and see a change made a moment ago; a query of another shape is refused."""

from __future__ import annotations

import pytest

from qiro import tenant_context
from qiro.db.compiled import OneValueQuery
from sysauth import selectors
from sysauth.backends import role_permissions_of
from sysauth.models import Role, RolePermission, RolePermissionHistory, User, UserRole


def orm_permissions(user: User) -> set[str]:
    return set(
        RolePermission.objects.filter(role__user_roles__user=user).values_list(
            "codename", flat=True
        )
    )


def orm_roles_and_permissions(user: User) -> tuple[list[str], set[str]]:
    pairs = list(
        UserRole.objects.filter(user=user).values_list("role__name", "role__permissions__codename")
    )
    return sorted({n for n, _ in pairs}), {c for _, c in pairs if c}


def test_the_compiled_reads_answer_what_the_orm_answers(live_db, company):
    with tenant_context.company_context(company.company):
        extra = Role.objects.create(name="compiled-reads", label="x")
        RolePermission.objects.create(role=extra, codename="sysauth.view_session")
        for user in (company.owner, company.member):
            user = User.objects.get(pk=user.pk)
            assert role_permissions_of(user) == orm_permissions(user)
            assert selectors.roles_and_permissions(user=user) == orm_roles_and_permissions(user)
        member = User.objects.get(pk=company.member.pk)
        before = role_permissions_of(member)
        UserRole.objects.create(user=member, role=extra)  # seen at once: read again each time
        assert role_permissions_of(member) == before | {"sysauth.view_session"}
        assert "compiled-reads" in selectors.roles_and_permissions(user=member)[0]
        UserRole.objects.filter(user=member, role=extra).delete()
        extra.delete()
    tenant_context.clear()


def test_a_query_of_another_shape_is_refused(live_db, company):
    two_values = OneValueQuery(
        User, lambda pk: User.objects.filter(pk=pk, full_name="x").values_list("email")
    )
    converted = OneValueQuery(
        RolePermissionHistory,
        lambda pk: RolePermissionHistory.objects.filter(pk=pk).values_list("new_values"),
    )
    with tenant_context.company_context(company.company):
        with pytest.raises(TypeError, match="one parameter"):
            two_values.rows(1)
        with pytest.raises(TypeError, match="conversion"):
            converted.rows(1)
    tenant_context.clear()


def test_the_roles_read_with_a_token_or_a_session_are_the_orms_and_new_each_request(
    live_db, company
):
    """The statement that reads the token or the session also reads the user's roles and
    permissions (``backends.remember_roles``): what the ORM answers, read again each time."""
    from django.conf import settings
    from django.test import Client, RequestFactory

    from sysauth import backends, tokens
    from sysauth.middleware import user_read_with_session
    from sysauth.sessions.db import SessionStore
    from tests.sysauth.conftest import sign_in

    client = Client()
    sign_in(client, company.host, company.member.email)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value

    def by_token_and_by_session() -> list[User]:
        token_user = tokens._token_with_user(token.prefix).user  # type: ignore[union-attr]
        request = RequestFactory().get("/", HTTP_HOST=company.host)
        request.session = SessionStore(cookie)
        session_user = user_read_with_session(request)
        assert session_user is not None
        return [token_user, session_user]

    def remembered(user: User) -> tuple[list[str], set[str]]:
        return getattr(user, backends.ROLE_NAMES), getattr(user, backends.PERMISSION_CACHE)

    with tenant_context.company_context(company.company):
        member = User.objects.get(pk=company.member.pk)
        token, _plain = tokens.issue_token(user=member, name="roles read", acting_user=member)
        for user in by_token_and_by_session():
            assert remembered(user) == orm_roles_and_permissions(member)
            assert user.has_perm("sysauth.view_session") is False
        extra = Role.objects.create(name="read-with-the-user", label="x")
        RolePermission.objects.create(role=extra, codename="sysauth.view_session")
        RolePermission.objects.create(role=extra, codename="sysauth.view_user")
        UserRole.objects.create(user=member, role=extra)
        for user in by_token_and_by_session():  # the next request sees it
            names, held = remembered(user)
            assert (names, held) == orm_roles_and_permissions(member)
            assert "read-with-the-user" in names
            assert {"sysauth.view_session", "sysauth.view_user"} <= held
            assert user.has_perm("sysauth.view_session") is True
        UserRole.objects.filter(user=member, role=extra).delete()
        extra.delete()
        token.delete()
    tenant_context.clear()
