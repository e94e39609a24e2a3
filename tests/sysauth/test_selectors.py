"""The list reads: users with their roles, and the recent permission history."""

from __future__ import annotations

import datetime as dt

from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from qiro import tenant_context
from sysauth import actions, selectors
from sysauth.models import Role, RolePermission, RolePermissionHistory, User, UserRole
from tests.sysauth.conftest import sign_in


def test_users_with_roles_names_each_users_roles_in_one_query(live_db, company, other_company):
    with tenant_context.company_context(company.company):
        admin = Role.objects.get(name=Role.ADMIN)
        actions.assign_role(user=company.member, role=admin, acting_user=None)
        with CaptureQueriesContext(connection) as queries:
            users = dict(selectors.users_with_roles().values_list("email", "role_names"))  # type: ignore[misc]
        try:
            # one SELECT (the runtime backend's context statements ride along with it)
            assert len([q for q in queries if "sysauth_user" in q["sql"]]) == 1
            assert users[company.owner.email] == ["owner"]
            assert users[company.member.email] == ["admin", "member"]
            assert other_company.owner.email not in users
        finally:
            UserRole.objects.filter(user=company.member, role=admin).delete()


def test_a_page_of_users_gets_its_roles_named_in_one_query(live_db, company):
    with tenant_context.company_context(company.company):
        admin = Role.objects.get(name=Role.ADMIN)
        actions.assign_role(user=company.member, role=admin, acting_user=None)
        loner = User.objects.create_user("loner-roles@sa.example.kr", "x-pass-1234567")
        try:
            page = list(User.objects.filter(pk__in=[company.owner.pk, company.member.pk, loner.pk]))
            with CaptureQueriesContext(connection) as queries:
                selectors.name_roles_of_page(page)
            assert len([q for q in queries if "sysauth_userrole" in q["sql"]]) == 1
            names = {user.email: user.role_names for user in page}  # type: ignore[attr-defined]
            assert names == {
                company.owner.email: ["owner"],
                company.member.email: ["admin", "member"],
                loner.email: [],
            }
        finally:
            UserRole.objects.filter(user=company.member, role=admin).delete()
            loner.delete()


def test_recent_permission_changes_keeps_to_the_window_newest_first(live_db, company):
    with tenant_context.company_context(company.company):
        member = Role.objects.get(name=Role.MEMBER)
        actions.assign_role(user=company.owner, role=member, acting_user=None)
        recent = list(selectors.recent_permission_changes(days=30)[:50])
        assert recent, "the assignment above is in the history"
        assert recent == sorted(recent, key=lambda h: (h.changed_at, h.pk), reverse=True)
        newest = recent[0]
        assert newest.user_id == company.owner.pk
        assert newest.role == member
        permissions = (
            selectors.recent_permission_changes(days=30)
            .filter(pk=newest.pk)
            .values_list("role_permissions", flat=True)  # type: ignore[misc]
            .get()
        )
        assert permissions == sorted(
            RolePermission.objects.filter(role=member).values_list("codename", flat=True)
        )
        # Move every row out of the window: the owner may rewrite history, the runtime may not.
        ids = [h.pk for h in recent]
    with tenant_context.owner_context():
        connections["owner"].set_schema(company.company.schema_name)  # type: ignore[attr-defined]
        RolePermissionHistory.objects.using("owner").filter(pk__in=ids).update(
            changed_at=timezone.now() - dt.timedelta(days=31)
        )
        connections["owner"].set_schema_to_public()  # type: ignore[attr-defined]
    with tenant_context.company_context(company.company):
        assert not selectors.recent_permission_changes(days=30).filter(pk__in=ids).exists()
        UserRole.objects.filter(user=company.owner, role=member).delete()


def test_the_company_users_list_shows_each_users_roles(live_db, company):
    browser = Client()
    sign_in(browser, company.host, company.owner.email)
    with translation.override("en"):
        page = browser.get(
            "/admin/sysauth/user/", HTTP_HOST=company.host, HTTP_ACCEPT_LANGUAGE="en"
        )
    assert page.status_code == 200
    rows = {
        row.split("</th>")[0]: row
        for row in page.content.decode().split('<th class="field-email">')[1:]
    }
    owner_row = next(r for key, r in rows.items() if company.owner.email in key)
    member_row = next(r for key, r in rows.items() if company.member.email in key)
    assert '<td class="field-roles">Owner</td>' in owner_row
    assert '<td class="field-roles">Member</td>' in member_row
