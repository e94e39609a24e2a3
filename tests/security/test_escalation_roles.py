"""Insiders editing roles: attacks over HTTP on the company admin's roles, as the runtime role.

The attacker is a "manager": the default admin's permissions plus managing
roles and deleting users, but not an owner, and without ``UNHELD``. (The
default ``admin`` role may only view roles; Django's admin turns it away
from these pages before any rule of ours is asked.) What a role carries is
what its holders may do, so editing a role is granting.
"""

from __future__ import annotations

from sysauth.hierarchy import ADMIN_ACCESS
from sysauth.models import Role
from tests.sysauth.escalation import (
    UNHELD,
    cast,
    change_form_data,
    company,
    errors_shown,
    post,
)

__all__ = ["cast", "company"]  # fixtures, used by name


def shows(response, expected: str) -> bool:
    return any(expected in message for message in errors_shown(response))


def test_a_manager_cannot_add_a_permission_they_lack_to_their_own_role(cast):
    url = f"role/{cast.manager_role.pk}/change/"
    before = cast.permissions_of(cast.manager_role)
    data = change_form_data(cast.client("owner"), cast, url)
    data["codenames"] = [*data["codenames"], UNHELD]
    response = post(cast.client("manager"), cast, url, data)
    assert shows(response, "cannot grant permissions you do not hold yourself")
    assert cast.permissions_of(cast.manager_role) == before


def test_a_manager_cannot_create_a_role_with_a_permission_they_lack(cast):
    manager = cast.client("manager")
    role = {"name": f"escalate-{cast.n}", "label": "", "description": ""}
    response = post(manager, cast, "role/add/", {**role, "codenames": [ADMIN_ACCESS, UNHELD]})
    assert shows(response, "cannot grant permissions you do not hold yourself")
    assert cast.read(Role, name=role["name"]) is None
    # with what they hold, they may
    response = post(manager, cast, "role/add/", {**role, "codenames": [ADMIN_ACCESS]})
    assert errors_shown(response) == []
    assert cast.permissions_of(cast.read(Role, name=role["name"])) == {ADMIN_ACCESS}


def test_a_manager_cannot_rename_a_role_to_owner(cast):
    url = f"role/{cast.manager_role.pk}/change/"
    data = change_form_data(cast.client("owner"), cast, url) | {"name": Role.OWNER}
    response = post(cast.client("manager"), cast, url, data)
    assert shows(response, "may be named “owner”")
    assert cast.read(Role, pk=cast.manager_role.pk).name == cast.manager_role.name


def test_a_manager_cannot_change_the_owner_role(cast):
    owner_role = cast.roles()[Role.OWNER]
    url = f"role/{owner_role.pk}/change/"
    before = cast.permissions_of(owner_role)
    data = change_form_data(cast.client("owner"), cast, url)
    # lock the owners out of the admin, under a new label
    data.update(label="hijacked", codenames=[c for c in data["codenames"] if c != ADMIN_ACCESS])
    response = post(cast.client("manager"), cast, url, data)
    assert shows(response, "Only an owner can change the owner role")
    assert cast.read(Role, pk=owner_role.pk).label != "hijacked"
    assert cast.permissions_of(owner_role) == before


def test_the_owner_role_keeps_its_name_even_for_an_owner(cast):
    owner_role = cast.roles()[Role.OWNER]
    url = f"role/{owner_role.pk}/change/"
    data = change_form_data(cast.client("owner"), cast, url) | {"name": "former-owner"}
    response = post(cast.client("owner"), cast, url, data)
    assert shows(response, "keeps its name")
    assert cast.read(Role, pk=owner_role.pk).name == Role.OWNER


def test_saving_the_owner_role_as_new_cannot_copy_its_permissions(cast):
    owner_role = cast.roles()[Role.OWNER]
    url = f"role/{owner_role.pk}/change/"
    data = change_form_data(cast.client("owner"), cast, url)
    data.update(name=f"owner-copy-{cast.n}", _saveasnew="1")
    response = post(cast.client("manager"), cast, url, data)
    assert shows(response, "sysauth.change_userrole")  # the owner's, not the manager's
    assert cast.read(Role, name=f"owner-copy-{cast.n}") is None


def test_a_manager_cannot_delete_the_owner_role_alone_or_in_bulk(cast):
    """Stopped twice: the owner role always has holders (assignments protect their role),
    and ``delete_role`` never deletes it (tests/sysauth/test_roles.py)."""
    owner_role = cast.roles()[Role.OWNER]
    manager = cast.client("manager")
    response = post(manager, cast, f"role/{owner_role.pk}/delete/", {"post": "yes"})
    assert errors_shown(response) == []  # the page that says why, not an error page
    spare = post(manager, cast, "role/add/", {"name": f"aaa-spare-{cast.n}", "codenames": []})
    assert errors_shown(spare) == []
    spare_role = cast.read(Role, name=f"aaa-spare-{cast.n}")
    response = post(
        manager,
        cast,
        "role/",
        {"action": "delete_selected", "_selected_action": [spare_role.pk, owner_role.pk],
         "post": "yes"},
    )  # fmt: skip
    assert errors_shown(response) == []
    assert cast.read(Role, pk=owner_role.pk) is not None
    assert cast.read(Role, pk=spare_role.pk) is not None, "the spare role was deleted alone"
