"""Roles: defaults at provisioning, the rules of assignments, permissions from roles."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.utils import translation

from qiro import tenant_context
from sysauth import actions
from sysauth.models import Role, RolePermission, User, UserRole
from tests.conftest import PASSWORD, admin_sign_in, make_company
from tests.sysauth.conftest import sign_in


def test_first_administrator_gets_the_owner_role_and_the_default_roles_exist(live_db):
    made = make_company("sarole", "5599999991", "역할 주식회사")
    with tenant_context.company_context(made.company):
        owner = actions.create_first_administrator(
            email="Boss@Example.kr", full_name="대표", password_hash=User().password or "!x"
        )
        assert set(Role.objects.values_list("name", flat=True)) == {"owner", "admin", "member"}
        assert list(UserRole.objects.filter(user=owner).values_list("role__name", flat=True)) == [
            "owner"
        ]
        owner_perms = set(
            RolePermission.objects.filter(role__name="owner").values_list("codename", flat=True)
        )
        assert actions.ADMIN_ACCESS in owner_perms
        assert "sysauth.change_role" in owner_perms
        assert not RolePermission.objects.filter(role__name="member").exists()
        # Running it again (a retried provisioning) creates no second set of roles.
        actions.ensure_default_roles(acting_user=None)
        assert Role.objects.count() == 3


def test_duplicate_assignment_is_refused_with_a_clear_message(live_db, company):
    with tenant_context.company_context(company.company), translation.override("en"):
        member_role = Role.objects.get(name=Role.MEMBER)
        with pytest.raises(ValidationError) as refused:
            actions.assign_role(user=company.member, role=member_role, acting_user=company.owner)
        assert "already has the role" in " ".join(refused.value.messages)
    assert "role" in refused.value.message_dict


def test_the_last_owner_cannot_lose_the_role_be_deactivated_or_deleted(live_db, company):
    with tenant_context.company_context(company.company), translation.override("en"):
        owner_role = Role.objects.get(name=Role.OWNER)
        with pytest.raises(ValidationError, match="at least one owner"):
            actions.unassign_role(user=company.owner, role=owner_role, acting_user=company.owner)
        with pytest.raises(ValidationError, match="last owner"):
            actions.deactivate_user(user=company.owner, acting_user=company.owner)
        with pytest.raises(ValidationError, match="last owner"):
            actions.delete_user(user=company.owner, acting_user=company.owner)
        with pytest.raises(ValidationError, match="cannot be deleted"):
            actions.delete_role(role=owner_role, acting_user=company.owner)
        assert UserRole.objects.filter(user=company.owner, role=owner_role).exists()
        # With a second owner, the first may step down.
        second = User.objects.create_user("second-owner@example.kr", PASSWORD)
        actions.assign_role(user=second, role=owner_role, acting_user=company.owner)
        actions.unassign_role(user=company.owner, role=owner_role, acting_user=second)
        with pytest.raises(ValidationError, match="at least one owner"):
            actions.unassign_role(user=second, role=owner_role, acting_user=second)
        actions.assign_role(user=company.owner, role=owner_role, acting_user=second)
        actions.unassign_role(user=second, role=owner_role, acting_user=company.owner)


def test_has_perm_follows_the_roles(live_db, company):
    with tenant_context.company_context(company.company):
        user = User.objects.create_user("perm@example.kr", PASSWORD)
        assert not user.has_perm(actions.ADMIN_ACCESS)
        actions.assign_role(user=user, role=Role.objects.get(name=Role.ADMIN), acting_user=None)
        user = User.objects.get(pk=user.pk)  # permissions are cached per object
        assert user.has_perm(actions.ADMIN_ACCESS)
        assert user.has_perm("sysauth.view_user")
        assert not user.has_perm("sysauth.delete_user")
        assert user.has_module_perms("sysauth")
        assert not user.has_module_perms("tenants")


def test_the_company_admin_opens_only_for_roles_that_allow_it(live_db, company):
    member = Client()
    response = admin_sign_in(member, company.host, company.member.email)
    assert response.status_code == 200
    assert "roles do not include" in response.content.decode() or "역할" in (
        response.content.decode()
    )
    owner = Client()
    sign_in(owner, company.host, company.owner.email)
    index = owner.get("/admin/", HTTP_HOST=company.host)
    assert index.status_code == 200
    page = index.content.decode()
    for url in ("sysauth/user/", "sysauth/role/", "sysauth/userrole/", "sysauth/session/",
                "sysauth/rolepermissionhistory/"):  # fmt: skip
        assert f"/admin/{url}" in page
    # Platform models are not part of a company's admin.
    assert "/admin/tenants/" not in page
    assert owner.get("/admin/tenants/company/", HTTP_HOST=company.host).status_code == 404
    # Signed in as a member through the company's own page: no admin either.
    sign_in(member, company.host, company.member.email)
    assert member.get("/admin/", HTTP_HOST=company.host).status_code == 302


@override_settings(QIRO_LOGIN_FAILURES_PER_ACCOUNT=3, QIRO_LOGIN_FAILURES_PER_IP=1000)
def test_sign_in_is_throttled_per_account_with_a_clear_message(live_db, company):
    with tenant_context.company_context(company.company):
        user = User.objects.create_user("guessed@example.kr", PASSWORD)
    client = Client()
    for _ in range(3):
        response = client.post(
            "/accounts/login/",
            {"username": user.email, "password": "wrong"},
            HTTP_HOST=company.host,
        )
        assert "Too many" not in response.content.decode()
    # Now even the right password is refused, with a message that says why.
    response = client.post(
        "/accounts/login/", {"username": user.email, "password": PASSWORD}, HTTP_HOST=company.host
    )
    assert response.status_code == 200
    assert response.context["form"].errors.as_data()["__all__"][0].code == "throttled"
    # Other accounts are not affected.
    sign_in(Client(), company.host, company.member.email)


@override_settings(QIRO_LOGIN_FAILURES_PER_ACCOUNT=1000, QIRO_LOGIN_FAILURES_PER_IP=4)
def test_sign_in_is_throttled_per_address(live_db, other_company):
    client = Client(REMOTE_ADDR="192.0.2.44")
    for n in range(4):
        client.post(
            "/accounts/login/",
            {"username": f"nobody{n}@example.kr", "password": "x"},
            HTTP_HOST=other_company.host,
        )
    response = client.post(
        "/accounts/login/",
        {"username": other_company.member.email, "password": PASSWORD},
        HTTP_HOST=other_company.host,
    )
    assert response.context["form"].errors.as_data()["__all__"][0].code == "throttled"
    # Another address signs in normally.
    sign_in(Client(REMOTE_ADDR="192.0.2.45"), other_company.host, other_company.member.email)


def test_ensure_default_roles_command_fills_older_companies(live_db):
    from django.core.management import call_command

    older = make_company("saold", "5599999992", "예전 주식회사")  # no roles yet
    call_command("ensure_default_roles", verbosity=0)
    call_command("ensure_default_roles", verbosity=0)  # idempotent
    with tenant_context.company_context(older.company):
        assert Role.objects.count() == 3
        owners = UserRole.objects.filter(role__name=Role.OWNER)
        assert [a.user_id for a in owners] == [older.owner.pk]
