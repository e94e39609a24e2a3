"""Companies for the sysauth tests: each module gets its own, with the default roles."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from qiro import tenant_context
from sysauth import actions
from sysauth.models import Role, UserRole
from tests.conftest import PASSWORD, CompanyWithUsers, make_company
from tests.tenants.test_provisioning import remove_company

# Its helpers assert: let pytest explain their failures as it does a test's.
pytest.register_assert_rewrite("tests.sysauth.session_store")

_numbers = itertools.count(1)


def new_company(prefix: str) -> CompanyWithUsers:
    """A company with an owner (owner role) and a member (member role)."""
    n = next(_numbers)
    made = make_company(f"{prefix}{n}", f"55{n:08d}", f"{prefix} {n} 주식회사")
    with tenant_context.company_context(made.company):
        roles = actions.ensure_default_roles(acting_user=None)
        UserRole.objects.create(user=made.owner, role=roles[Role.OWNER])
        UserRole.objects.create(user=made.member, role=roles[Role.MEMBER])
        # The fixture users are superusers by default; owners here get rights from roles.
        type(made.owner).objects.filter(pk=made.owner.pk).update(is_superuser=False)
        made.owner.is_superuser = False
    tenant_context.clear()
    return made


@contextlib.contextmanager
def throwaway_company(prefix: str) -> Iterator[CompanyWithUsers]:
    """A company of ``new_company`` for the block, removed after it."""
    made = new_company(prefix)
    try:
        yield made
    finally:
        tenant_context.clear()
        remove_company(made.company.schema_name)


def sign_in(client: Client, host: str, email: str, password: str = PASSWORD) -> None:
    response = client.post(
        "/accounts/login/", {"username": email, "password": password}, HTTP_HOST=host
    )
    assert response.status_code == 302, response.content.decode()[:800]


def module_company(prefix: str, *, removed_afterwards: bool = False) -> Any:
    """A fixture of module scope: a company of ``new_company`` for the module's tests
    (and removed at the module's end, if asked)."""

    @pytest.fixture(scope="module")
    def made_for_the_module(
        django_db_setup: None, django_db_blocker: pytest.FixtureRequest
    ) -> Iterator[CompanyWithUsers]:
        with django_db_blocker.unblock():  # type: ignore[attr-defined]
            made = new_company(prefix)
        yield made
        if removed_afterwards:
            with django_db_blocker.unblock():  # type: ignore[attr-defined]
                tenant_context.clear()
                remove_company(made.company.schema_name)

    return made_for_the_module


company = module_company("sa")
other_company = module_company("sb")
