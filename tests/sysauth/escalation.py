"""The people of the escalation attacks: a company with two owners, an admin, a member
and a "manager", and helpers to attack through its admin over HTTP.

Two owners, so the last-owner guard never stops an attack by itself: what
stops it must be the role hierarchy. Users are written with one precomputed
password hash (Argon2 is slow by design); they still sign in through the real
sign-in page, as the runtime role, on the company's host.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.http import HttpResponse
from django.test import Client

from qiro import tenant_context
from sysauth import actions
from sysauth.hierarchy import DEFAULT_ROLES
from sysauth.models import Role, RolePermission, User, UserRole
from tests.conftest import PASSWORD, CompanyWithUsers
from tests.sysauth.conftest import new_company, sign_in

# The default admin's permissions, plus deleting users and managing roles: what
# a company might delegate to a trusted manager who is still not an owner.
MANAGER_PERMISSIONS = [
    *DEFAULT_ROLES[Role.ADMIN][1],
    "sysauth.delete_user",
    "sysauth.add_role",
    "sysauth.change_role",
    "sysauth.delete_role",
    "sysauth.add_rolepermission",
    "sysauth.change_rolepermission",
    "sysauth.delete_rolepermission",
]
# Held by nobody but superusers: the permission an escalation tries to reach.
UNHELD = "sysauth.delete_session"

_numbers = itertools.count(1)


@functools.cache
def _password_hash() -> str:
    return make_password(PASSWORD)


@dataclass
class Cast:
    made: CompanyWithUsers
    owner: User  # the second owner: the victim of the attacks
    admin: User  # the default admin role
    member: User  # the default member role
    manager: User  # a role of its own, ``manager_role``
    manager_role: Role
    n: int

    @property
    def host(self) -> str:
        return self.made.host

    def roles(self) -> dict[str, Role]:
        with tenant_context.company_context(self.made.company):
            return {role.name: role for role in Role.objects.all()}

    def client(self, who: str, language: str = "en") -> Client:
        """A browser signed in as ``who`` (owner, admin, member or manager)."""
        client = Client(HTTP_ACCEPT_LANGUAGE=language)
        sign_in(client, self.host, getattr(self, who).email)
        return client

    def read(self, model: Any, **lookup: Any) -> Any:
        """A fresh copy of one row, read in the company's context."""
        with tenant_context.company_context(self.made.company):
            return model.objects.filter(**lookup).first()

    def holds(self, user: User, role_name: str) -> bool:
        with tenant_context.company_context(self.made.company):
            return UserRole.objects.filter(user=user, role__name=role_name).exists()

    def permissions_of(self, role: Role) -> set[str]:
        with tenant_context.company_context(self.made.company):
            return set(RolePermission.objects.filter(role=role).values_list("codename", flat=True))

    def assignment(self, user: User, role_name: str) -> UserRole:
        with tenant_context.company_context(self.made.company):
            return UserRole.objects.get(user=user, role__name=role_name)


def company_for_attacks() -> CompanyWithUsers:
    return new_company("esc")


def cast_in(made: CompanyWithUsers) -> Cast:
    """Fresh people for one test, so that an attack that succeeds spoils only its own test."""
    n = next(_numbers)
    with tenant_context.company_context(made.company):
        roles = {role.name: role for role in Role.objects.all()}
        manager_role = actions.save_role(
            role=Role(name=f"manager-{n}"), codenames=MANAGER_PERMISSIONS, acting_user=None
        )

        def person(prefix: str, role: Role) -> User:
            user = User.objects.create(
                email=f"{prefix}-{n}@esc.example.kr", full_name=prefix, password=_password_hash()
            )
            UserRole.objects.create(user=user, role=role)
            return user

        cast = Cast(
            made=made,
            owner=person("owner", roles[Role.OWNER]),
            admin=person("admin", roles[Role.ADMIN]),
            member=person("member", roles[Role.MEMBER]),
            manager=person("manager", manager_role),
            manager_role=manager_role,
            n=n,
        )
    tenant_context.clear()
    return cast


@pytest.fixture(scope="module")
def company(django_db_setup: None, django_db_blocker: Any) -> CompanyWithUsers:
    """The attacked company of a test module (two owners, an admin, a member, a manager)."""
    with django_db_blocker.unblock():
        return company_for_attacks()


@pytest.fixture
def cast(live_db: None, company: CompanyWithUsers) -> Cast:
    """Fresh people of the company for one test."""
    return cast_in(company)


def post(client: Client, cast: Cast, url: str, data: dict[str, Any]) -> HttpResponse:
    """POST to the company's admin and follow the redirects to the page a person sees."""
    return client.post(f"/admin/sysauth/{url}", data, HTTP_HOST=cast.host, follow=True)  # type: ignore[return-value]


def errors_shown(response: Any) -> list[str]:
    """The error messages on the page a refused request ends on: a page, not a 403 or a 500."""
    assert response.status_code == 200, response.content.decode()[:1500]
    return [str(m) for m in response.context["messages"] if m.level_tag == "error"]


def turned_away(response: Any) -> bool:
    """The request ended on the admin's sign-in page (the person may not use the admin)."""
    return response.status_code == 200 and response.redirect_chain[-1][0].startswith(
        "/admin/login/"
    )


def change_form_data(client: Client, cast: Cast, url: str) -> dict[str, Any]:
    """What the change page at ``url`` would post unchanged, inline management forms included."""
    page: Any = client.get(f"/admin/sysauth/{url}", HTTP_HOST=cast.host)
    assert page.status_code == 200, page.content.decode()[:800]
    data: dict[str, Any] = {}

    def take(form: Any) -> None:
        for name in form.fields:
            value = form[name].value()
            if value is not None and value is not False:  # an unticked box is not posted
                data[form.add_prefix(name)] = value

    take(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        take(inline.formset.management_form)
        for form in inline.formset.forms:
            take(form)
    return data
