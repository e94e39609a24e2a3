"""The role hierarchy in the services, whatever the entry point: who may change whom."""

from __future__ import annotations

import inspect

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from qiro import tenant_context
from sysauth import actions
from sysauth.hierarchy import ADMIN_ACCESS, EscalationRefused
from sysauth.models import Role, User, UserRole
from tests.sysauth.escalation import UNHELD, Cast, cast_in

HUMAN_ENTRY_POINTS = [
    "assign_role",
    "unassign_role",
    "set_role_permissions",
    "save_role",
    "delete_role",
    "create_user",
    "update_user",
    "deactivate_user",
    "delete_user",
    "send_password_reset_email",
]


@pytest.fixture
def cast(live_db, company):
    made = cast_in(company)
    with tenant_context.company_context(company.company), translation.override("en"):
        yield made
    tenant_context.clear()


def reader_role(cast: Cast) -> Role:
    """A role with one permission that the admin holds too."""
    return actions.save_role(
        role=Role(name=f"reader-{cast.n}"), codenames=["sysauth.view_user"], acting_user=None
    )


@pytest.mark.parametrize("name", HUMAN_ENTRY_POINTS)
def test_every_role_and_user_service_must_be_told_who_acts(name):
    parameter = inspect.signature(getattr(actions, name)).parameters["acting_user"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is inspect.Parameter.empty, "a default would skip the checks"


def test_only_an_owner_grants_or_removes_the_owner_role(cast):
    owner_role = cast.roles()[Role.OWNER]
    with pytest.raises(EscalationRefused, match="Only an owner can grant"):
        actions.assign_role(user=cast.admin, role=owner_role, acting_user=cast.admin)
    actions.assign_role(user=cast.member, role=owner_role, acting_user=cast.owner)
    with pytest.raises(EscalationRefused, match="is an owner"):
        actions.unassign_role(user=cast.member, role=owner_role, acting_user=cast.admin)
    actions.unassign_role(user=cast.member, role=owner_role, acting_user=cast.owner)
    assert not UserRole.objects.filter(user=cast.member, role=owner_role).exists()


def test_the_system_acts_without_a_person_and_without_checks(cast):
    owner_role = cast.roles()[Role.OWNER]
    actions.assign_role(user=cast.member, role=owner_role, acting_user=None)
    actions.unassign_role(user=cast.member, role=owner_role, acting_user=None)


def test_only_an_owner_changes_deactivates_resets_or_deletes_an_owner(cast, rf):
    request = rf.get("/", HTTP_HOST=cast.host)
    refused = [
        lambda: actions.update_user(user=cast.owner, email="x@attacker.example",
                                     full_name="", user_type="owner", acting_user=cast.admin),
        lambda: actions.deactivate_user(user=cast.owner, acting_user=cast.admin),
        lambda: actions.delete_user(user=cast.owner, acting_user=cast.manager),
        lambda: actions.send_password_reset_email(user=cast.owner, request=request,
                                                   acting_user=cast.admin),
    ]  # fmt: skip
    for attempt in refused:
        with pytest.raises(EscalationRefused, match="is an owner"):
            attempt()
    stored = User.objects.get(pk=cast.owner.pk)
    assert (stored.email, stored.is_active) == (cast.owner.email, True)
    # Saving an owner's page without a change is no change, and not refused.
    actions.update_user(
        user=cast.owner,
        email=cast.owner.email,
        full_name=cast.owner.full_name,
        user_type=cast.owner.user_type,
        acting_user=cast.admin,
    )


def test_nobody_manages_a_user_who_holds_more_than_they_do(cast):
    with pytest.raises(EscalationRefused, match="permissions you do not have"):
        actions.update_user(user=cast.manager, email="x@attacker.example", full_name="",
                             user_type="member", acting_user=cast.admin)  # fmt: skip
    with pytest.raises(EscalationRefused, match="permissions you do not have"):
        actions.deactivate_user(user=cast.manager, acting_user=cast.admin)
    # an equal they may manage, and the manager may manage the admin
    actions.update_user(user=cast.member, email=f"renamed-{cast.n}@esc.example.kr",
                         full_name="", user_type="member", acting_user=cast.admin)  # fmt: skip
    actions.deactivate_user(user=cast.admin, acting_user=cast.manager)


def test_nobody_assigns_a_role_carrying_a_permission_they_lack(cast):
    with pytest.raises(EscalationRefused, match="carries permissions you do not hold"):
        actions.assign_role(user=cast.member, role=cast.manager_role, acting_user=cast.admin)
    with pytest.raises(EscalationRefused, match="carries permissions you do not hold"):
        actions.create_user(email=f"new-{cast.n}@esc.example.kr", full_name="", password=None,
                             roles=[cast.manager_role], acting_user=cast.admin)  # fmt: skip
    assert not User.objects.filter(email=f"new-{cast.n}@esc.example.kr").exists()
    actions.assign_role(user=cast.member, role=reader_role(cast), acting_user=cast.admin)


def test_the_owner_user_type_is_for_owners_to_give(cast):
    with pytest.raises(EscalationRefused, match="owner user type"):
        actions.create_user(email=f"new-{cast.n}@esc.example.kr", full_name="", password=None,
                             user_type="owner", acting_user=cast.admin)  # fmt: skip
    with pytest.raises(EscalationRefused, match="owner user type"):
        actions.update_user(user=cast.member, email=cast.member.email, full_name="",
                             user_type="owner", acting_user=cast.manager)  # fmt: skip
    actions.update_user(user=cast.member, email=cast.member.email, full_name="",
                         user_type="owner", acting_user=cast.owner)  # fmt: skip


def test_nobody_adds_a_permission_they_lack_to_any_role(cast):
    role = reader_role(cast)
    for target in (role, cast.manager_role):  # another role, and their own
        with pytest.raises(EscalationRefused, match=UNHELD):
            actions.set_role_permissions(
                role=target, codenames=["sysauth.view_user", UNHELD], acting_user=cast.manager
            )
    with pytest.raises(EscalationRefused, match=UNHELD):
        actions.save_role(role=Role(name=f"new-{cast.n}"), codenames=[UNHELD],
                           acting_user=cast.manager)  # fmt: skip
    assert not Role.objects.filter(name=f"new-{cast.n}").exists()
    # taking away is not granting
    actions.set_role_permissions(role=role, codenames=[], acting_user=cast.manager)
    with pytest.raises(ValidationError, match=r"Unknown permissions: tenants\.change_company"):
        actions.set_role_permissions(
            role=role, codenames=["tenants.change_company"], acting_user=None
        )


def test_the_owner_role_is_changed_by_owners_and_keeps_its_name(cast):
    owner_role = cast.roles()[Role.OWNER]
    codenames = cast.permissions_of(owner_role)
    with pytest.raises(EscalationRefused, match="Only an owner can change the owner role"):
        actions.set_role_permissions(
            role=owner_role, codenames=codenames - {ADMIN_ACCESS}, acting_user=cast.manager
        )
    owner_role.name = "former-owner"
    with pytest.raises(ValidationError, match="keeps its name"):
        actions.save_role(role=owner_role, codenames=codenames, acting_user=cast.owner)
    with pytest.raises(EscalationRefused, match="may be named “owner”"):
        actions.save_role(role=Role(name=Role.OWNER), codenames=[], acting_user=None)
    cast.manager_role.name = Role.OWNER
    with pytest.raises(EscalationRefused, match="may be named “owner”"):
        actions.save_role(role=cast.manager_role, codenames=[], acting_user=cast.manager)
    assert Role.objects.get(pk=owner_role.pk).name == Role.OWNER


def test_a_role_name_is_refused_with_a_message_when_taken(cast):
    with pytest.raises(ValidationError) as taken:
        actions.save_role(role=Role(name=Role.ADMIN), codenames=[], acting_user=cast.owner)
    assert taken.value.message_dict == {"name": ["A role named “admin” already exists."]}


def test_a_superuser_counts_as_an_owner(cast):
    User.objects.filter(pk=cast.member.pk).update(is_superuser=True)
    boss = User.objects.get(pk=cast.member.pk)
    owner_role = cast.roles()[Role.OWNER]
    actions.assign_role(user=cast.admin, role=owner_role, acting_user=boss)
    with pytest.raises(EscalationRefused, match="is an owner"):
        actions.deactivate_user(user=boss, acting_user=cast.manager)


def test_a_deactivated_owner_is_still_protected_and_holds_nothing(cast):
    actions.deactivate_user(user=cast.owner, acting_user=cast.made.owner)
    gone = User.objects.get(pk=cast.owner.pk)
    with pytest.raises(EscalationRefused, match="is an owner"):
        actions.update_user(user=gone, email="x@attacker.example", full_name="",
                             user_type="owner", acting_user=cast.admin)  # fmt: skip
    with pytest.raises(EscalationRefused, match="Only an owner can grant"):
        actions.assign_role(user=cast.member, role=cast.roles()[Role.OWNER], acting_user=gone)


def test_what_the_acting_user_holds_is_read_now_not_from_the_request_cache(cast):
    assert cast.admin.has_perm("sysauth.view_user")  # cached on the object for the request
    UserRole.objects.filter(user=cast.admin).delete()
    with pytest.raises(EscalationRefused, match="carries permissions you do not hold"):
        actions.assign_role(user=cast.member, role=reader_role(cast), acting_user=cast.admin)


def test_a_refusal_is_translated(cast):
    with translation.override("ko"), pytest.raises(EscalationRefused) as refused:
        actions.assign_role(user=cast.admin, role=cast.roles()[Role.OWNER], acting_user=cast.admin)
    assert refused.value.messages == ["소유자 역할은 소유자만 부여하거나 해제할 수 있습니다."]
