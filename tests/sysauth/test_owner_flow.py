"""The issue's "done when", clicked through the company admin with the test client.

An owner creates a user, assigns a role, sees in the history that they did it,
sees the user's session, revokes it; the user's next click is signed out.
"""

from __future__ import annotations

from django.test import Client

from qiro import tenant_context
from sysauth.models import Role, Session, SessionStatus, User, UserRole
from tests.sysauth.conftest import sign_in

NEW_PASSWORD = "first-day-passphrase-2026"


def test_owner_creates_assigns_watches_history_and_revokes(live_db, company, mailoutbox):
    host = company.host
    owner = Client()
    sign_in(owner, host, company.owner.email)

    # 1. create a user
    response = owner.post(
        "/admin/sysauth/user/add/",
        {
            "email": "new.hire@example.kr",
            "full_name": "신입",
            "user_type": "member",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
        HTTP_HOST=host,
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context.company_context(company.company):
        hire = User.objects.get(email="new.hire@example.kr")
        admin_role = Role.objects.get(name=Role.ADMIN)

    # 2. assign a role
    response = owner.post(
        "/admin/sysauth/userrole/add/", {"user": hire.pk, "role": admin_role.pk}, HTTP_HOST=host
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context.company_context(company.company):
        assert UserRole.objects.filter(user=hire, role=admin_role).exists()
    # ... twice is refused with a clear message
    response = owner.post(
        "/admin/sysauth/userrole/add/", {"user": hire.pk, "role": admin_role.pk}, HTTP_HOST=host
    )
    assert response.status_code == 200
    assert "already has the role" in response.content.decode() or "이미" in (
        response.content.decode()
    )

    # 3. the history shows who did it
    history = owner.get(
        f"/admin/sysauth/rolepermissionhistory/?user__id__exact={hire.pk}", HTTP_HOST=host
    )
    assert history.status_code == 200
    rows = list(history.context["cl"].result_list)
    assert [(r.operation, r.role_id, r.actor_id) for r in rows] == [
        ("INSERT", admin_role.pk, company.owner.pk)
    ]
    assert company.owner.email in history.content.decode()

    # 4. the new user signs in; the owner sees the session
    hire_browser = Client(HTTP_USER_AGENT="NewHireBrowser/1.0")
    sign_in(hire_browser, host, hire.email, NEW_PASSWORD)
    assert hire_browser.get("/admin/", HTTP_HOST=host).status_code == 200
    sessions = owner.get(
        f"/admin/sysauth/session/?status__exact=active&user__id__exact={hire.pk}",
        HTTP_HOST=host,
    )
    listed = list(sessions.context["cl"].result_list)
    assert len(listed) == 1
    assert listed[0].user_agent == "NewHireBrowser/1.0"

    # 5. revoke it, after the question
    chosen = {"action": "revoke", "_selected_action": [listed[0].pk]}
    question = owner.post("/admin/sysauth/session/", chosen, HTTP_HOST=host)
    assert question.status_code == 200
    with tenant_context.company_context(company.company):
        assert Session.objects.get(pk=listed[0].pk).status == SessionStatus.ACTIVE
    response = owner.post("/admin/sysauth/session/", {**chosen, "confirm": "yes"}, HTTP_HOST=host)
    assert response.status_code == 302
    with tenant_context.company_context(company.company):
        ended = Session.objects.get(pk=listed[0].pk)
    assert ended.status == SessionStatus.REVOKED
    assert ended.revoked_by_id == company.owner.pk

    # 6. the revoked browser's next click is signed out, with a message
    response = hire_browser.get("/admin/sysauth/user/", HTTP_HOST=host, follow=True)
    assert response.redirect_chain[-1][0].startswith("/admin/login/")
    assert response.context["user"].is_anonymous
    assert [m.level_tag for m in response.context["messages"]] == ["warning"]
    # The owner is still signed in.
    assert owner.get("/admin/", HTTP_HOST=host).status_code == 200


def test_owner_invites_without_password_and_the_user_gets_an_email(live_db, company, mailoutbox):
    owner = Client()
    sign_in(owner, company.host, company.owner.email)
    response = owner.post(
        "/admin/sysauth/user/add/",
        {"email": "invited@example.kr", "full_name": "", "user_type": "member"},
        HTTP_HOST=company.host,
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert [m.to for m in mailoutbox] == [["invited@example.kr"]]
    assert f"http://{company.host}/accounts/password/reset/" in mailoutbox[0].body


def test_admin_refuses_to_remove_the_last_owner_with_a_message(live_db, company):
    owner = Client()
    sign_in(owner, company.host, company.owner.email)
    with tenant_context.company_context(company.company):
        assignment = UserRole.objects.get(user=company.owner, role__name=Role.OWNER)
    response = owner.post(
        f"/admin/sysauth/userrole/{assignment.pk}/delete/",
        {"post": "yes"},
        HTTP_HOST=company.host,
        follow=True,
    )
    assert response.status_code == 200
    assert "at least one owner" in response.content.decode() or "소유자" in (
        response.content.decode()
    )
    with tenant_context.company_context(company.company):
        assert UserRole.objects.filter(pk=assignment.pk).exists()


def test_deactivate_action_signs_the_user_out(live_db, company):
    owner, leaver = Client(), Client()
    sign_in(owner, company.host, company.owner.email)
    with tenant_context.company_context(company.company):
        user = User.objects.create_user("deactivated@example.kr", NEW_PASSWORD)
    sign_in(leaver, company.host, user.email, NEW_PASSWORD)
    response = owner.post(
        "/admin/sysauth/user/",
        {"action": "deactivate", "_selected_action": [user.pk]},
        HTTP_HOST=company.host,
    )
    assert response.status_code == 302
    assert leaver.get("/accounts/sessions/", HTTP_HOST=company.host).status_code == 302


def test_owner_edits_a_roles_permissions_and_the_history_names_them(live_db, company):
    from sysauth.models import RolePermission, RolePermissionHistory

    owner = Client()
    sign_in(owner, company.host, company.owner.email)
    with tenant_context.company_context(company.company):
        role = Role.objects.create(name="auditor")
    response = owner.post(
        f"/admin/sysauth/role/{role.pk}/change/",
        {
            "name": "auditor",
            "label": "감사",
            "description": "",
            "codenames": ["sysauth.view_rolepermissionhistory", "sysauth.use_company_admin"],
        },
        HTTP_HOST=company.host,
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context.company_context(company.company):
        assert set(RolePermission.objects.filter(role=role).values_list("codename", flat=True)) == {
            "sysauth.view_rolepermissionhistory",
            "sysauth.use_company_admin",
        }
        recorded = RolePermissionHistory.objects.filter(role=role, operation="INSERT")
        assert {r.actor_id for r in recorded} == {company.owner.pk}
        assert recorded.count() == 2
        entry = recorded.first()
    assert entry is not None
    # The history is read-only in the admin.
    response = owner.post(
        f"/admin/sysauth/rolepermissionhistory/{entry.pk}/delete/",
        {"post": "yes"},
        HTTP_HOST=company.host,
    )
    assert response.status_code == 403
