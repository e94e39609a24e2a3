"""Insiders reaching for more: attacks over HTTP on the company admin, as the runtime role.

Each test is an escalation a company's own user tries: an ``admin`` (the
default role, in the admin), a ``member`` (no admin at all), or a "manager"
who may also delete users. The company has two owners, so the last-owner
guard alone never stops an attack: the role hierarchy must
(``sysauth.hierarchy``, enforced in ``sysauth.services``). A refusal is a
page with a translated message, never a 403 or a 500, and changes nothing.
"""

from __future__ import annotations

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.test import Client

from sysauth.models import Role, User
from tests.conftest import PASSWORD
from tests.sysauth.escalation import (
    Cast,
    cast,
    change_form_data,
    company,
    errors_shown,
    post,
    turned_away,
)

ATTACKERS = ["admin", "member"]


__all__ = ["cast", "company"]  # fixtures, used by name


def refused(response, attacker: str, expected: str) -> None:
    """The admin is turned away, or shown the refusal; the member never reaches the admin."""
    if attacker == "member":
        assert turned_away(response)
    else:
        assert any(expected in message for message in errors_shown(response)), errors_shown(
            response
        )


# --- the documented attacks ----------------------------------------------------------------


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_nobody_but_an_owner_can_give_themself_the_owner_role(cast, attacker):
    me = getattr(cast, attacker)
    response = post(
        cast.client(attacker),
        cast,
        "userrole/add/",
        {"user": me.pk, "role": cast.roles()[Role.OWNER].pk},
    )
    assert not cast.holds(me, Role.OWNER)
    refused(response, attacker, "Only an owner can grant")


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_nobody_but_an_owner_can_remove_an_owners_assignment(cast, attacker):
    assignment = cast.assignment(cast.owner, Role.OWNER)
    response = post(
        cast.client(attacker), cast, f"userrole/{assignment.pk}/delete/", {"post": "yes"}
    )
    assert cast.holds(cast.owner, Role.OWNER)
    refused(response, attacker, "is an owner")


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_nobody_but_an_owner_can_change_an_owners_email_to_take_over_by_reset(
    cast, attacker, mailoutbox
):
    stolen = f"inbox-{cast.n}@attacker.example"
    data = change_form_data(cast.client("owner"), cast, f"user/{cast.owner.pk}/change/")
    # ... with a password of the attacker's choosing too, should the page take one
    data.update(email=stolen, password="pbkdf2_sha256$1$x$y", password1="x", password2="x")
    response = post(cast.client(attacker), cast, f"user/{cast.owner.pk}/change/", data)

    Client().post("/accounts/password/reset/", {"email": stolen}, HTTP_HOST=cast.host)
    assert [m.to for m in mailoutbox] == [], "the owner's reset link went to the attacker"
    stored = cast.read(User, pk=cast.owner.pk)
    assert stored.email == cast.owner.email
    assert stored.check_password(PASSWORD)
    refused(response, attacker, "is an owner")


# --- role assignments -------------------------------------------------------------------


def test_a_bulk_removal_with_the_owners_assignment_is_refused_and_undoes_the_rest(cast):
    kept = [cast.assignment(cast.member, Role.MEMBER), cast.assignment(cast.owner, Role.OWNER)]
    response = post(
        cast.client("admin"),
        cast,
        "userrole/",
        {"action": "delete_selected", "_selected_action": [a.pk for a in kept], "post": "yes"},
    )
    assert any("is an owner" in m for m in errors_shown(response))
    assert cast.holds(cast.member, Role.MEMBER), "the member's assignment was removed first"
    assert cast.holds(cast.owner, Role.OWNER)
    deleted = cast.read(LogEntry, action_flag=DELETION, object_id__in=[str(a.pk) for a in kept])
    assert deleted is None, "the admin log records a deletion that did not happen"


def test_an_admin_cannot_assign_a_role_carrying_permissions_they_lack(cast):
    admin = cast.client("admin")
    for user in (cast.member, cast.admin):  # to an accomplice, and to themself
        response = post(
            admin, cast, "userrole/add/", {"user": user.pk, "role": cast.manager_role.pk}
        )
        assert any("permissions you do not hold" in m for m in errors_shown(response))
        assert not cast.holds(user, cast.manager_role.name)
    # what they hold themselves they may give
    admin_role = cast.roles()[Role.ADMIN]
    response = post(admin, cast, "userrole/add/", {"user": cast.member.pk, "role": admin_role.pk})
    assert errors_shown(response) == []
    assert cast.holds(cast.member, Role.ADMIN)


def test_the_user_page_cannot_add_a_role_through_its_inline(cast):
    url = f"user/{cast.member.pk}/change/"
    data = change_form_data(cast.client("owner"), cast, url)
    total = int(data["user_roles-TOTAL_FORMS"])
    data.update(
        {
            "user_roles-TOTAL_FORMS": total + 1,
            f"user_roles-{total}-user": cast.member.pk,
            f"user_roles-{total}-role": cast.roles()[Role.OWNER].pk,
        }
    )
    post(cast.client("admin"), cast, url, data)
    assert not cast.holds(cast.member, Role.OWNER)


# --- users ------------------------------------------------------------------------------


def new_user_form(cast: Cast, **fields) -> dict:
    return {
        "email": f"accomplice-{cast.n}@attacker.example",
        "full_name": "공범",
        "user_type": "member",
        "password1": "attacker-chosen-passphrase-1",
        "password2": "attacker-chosen-passphrase-1",
        **fields,
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"roles": ["owner"]}, "Only an owner can grant"),
        ({"roles": ["manager"]}, "permissions you do not hold"),
        ({"user_type": "owner"}, "owner user type"),
    ],
    ids=["owner-role", "stronger-role", "owner-type"],
)
def test_an_admin_cannot_create_a_user_stronger_than_themself(cast, fields, expected):
    roles = cast.roles() | {"manager": cast.manager_role}
    if "roles" in fields:
        fields = {"roles": [roles[name].pk for name in fields["roles"]]}
    response = post(cast.client("admin"), cast, "user/add/", new_user_form(cast, **fields))
    assert any(expected in m for m in errors_shown(response))
    assert cast.read(User, email=f"accomplice-{cast.n}@attacker.example") is None


def test_saving_an_owners_page_as_new_cannot_mint_an_owner(cast):
    data = new_user_form(cast, roles=[cast.roles()[Role.OWNER].pk], _saveasnew="1")
    response = post(cast.client("admin"), cast, f"user/{cast.owner.pk}/change/", data)
    assert any("Only an owner can grant" in m for m in errors_shown(response))
    assert cast.read(User, email=f"accomplice-{cast.n}@attacker.example") is None


def test_an_admin_cannot_make_a_member_an_owner_by_user_type(cast):
    url = f"user/{cast.member.pk}/change/"
    data = change_form_data(cast.client("owner"), cast, url) | {"user_type": "owner"}
    response = post(cast.client("admin"), cast, url, data)
    assert any("owner user type" in m for m in errors_shown(response))
    assert cast.read(User, pk=cast.member.pk).user_type == "member"
    # The member's name is the admin's to change: the control that the page saves at all.
    renamed = {**data, "user_type": "member", "full_name": "새 이름"}
    response = post(cast.client("admin"), cast, url, renamed)
    assert errors_shown(response) == []
    assert cast.read(User, pk=cast.member.pk).full_name == "새 이름"


def test_an_admin_cannot_deactivate_an_owner_or_send_them_a_reset(cast, mailoutbox):
    admin = cast.client("admin")
    for action in ("deactivate", "send_password_reset"):
        chosen = {"action": action, "_selected_action": [cast.owner.pk]}
        response = post(admin, cast, "user/", chosen)
        assert any("is an owner" in m for m in errors_shown(response)), action
    assert cast.read(User, pk=cast.owner.pk).is_active
    assert mailoutbox == []


def test_a_manager_cannot_delete_an_owner_alone_or_in_bulk(cast):
    manager = cast.client("manager")
    response = post(manager, cast, f"user/{cast.owner.pk}/delete/", {"post": "yes"})
    assert any("is an owner" in m for m in errors_shown(response))
    both = [cast.member.pk, cast.owner.pk]
    chosen = {"action": "delete_selected", "_selected_action": both, "post": "yes"}
    response = post(manager, cast, "user/", chosen)
    assert any("is an owner" in m for m in errors_shown(response))
    assert cast.read(User, pk=cast.owner.pk) is not None
    assert cast.read(User, pk=cast.member.pk) is not None, "the member was deleted first"


def test_an_admin_cannot_take_over_a_user_who_holds_more_than_they_do(cast, mailoutbox):
    """The manager is no owner, but holds more than the admin: their e-mail is not the admin's."""
    url = f"user/{cast.manager.pk}/change/"
    data = change_form_data(cast.client("owner"), cast, url)
    data["email"] = f"inbox-{cast.n}@attacker.example"
    response = post(cast.client("admin"), cast, url, data)
    assert any("permissions you do not have" in m for m in errors_shown(response))
    assert cast.read(User, pk=cast.manager.pk).email == cast.manager.email


def test_a_refusal_reads_in_korean_too(cast):
    response = post(
        cast.client("admin", language="ko"),
        cast,
        "userrole/add/",
        {"user": cast.admin.pk, "role": cast.roles()[Role.OWNER].pk},
    )
    assert errors_shown(response) == ["소유자 역할은 소유자만 부여하거나 해제할 수 있습니다."]
    assert not cast.holds(cast.admin, Role.OWNER)


def test_an_admin_cannot_end_an_owners_sessions_in_the_admin(cast):
    """As over the API (``api/company/sessions.py``): the role hierarchy, not the page, decides."""
    from qiro.admin_confirm import CONFIRM_FIELD
    from sysauth.models import Session, SessionStatus

    cast.client("owner")  # the victim signs in: one active session
    session = cast.read(Session, user=cast.owner, status=SessionStatus.ACTIVE)
    admin = cast.client("admin")
    for url, action, selected in (
        ("session/", "revoke", session.pk),
        ("user/", "revoke_sessions", cast.owner.pk),
    ):
        chosen = {"action": action, "_selected_action": [selected], CONFIRM_FIELD: "yes"}
        response = post(admin, cast, url, chosen)
        assert any("is an owner" in m for m in errors_shown(response)), action
        assert cast.read(Session, pk=session.pk).status == SessionStatus.ACTIVE, action
    # The control: the member's session is the admin's to end.
    cast.client("member")
    theirs = cast.read(Session, user=cast.member, status=SessionStatus.ACTIVE)
    chosen = {"action": "revoke", "_selected_action": [theirs.pk], CONFIRM_FIELD: "yes"}
    assert errors_shown(post(admin, cast, "session/", chosen)) == []
    assert cast.read(Session, pk=theirs.pk).status == SessionStatus.REVOKED
