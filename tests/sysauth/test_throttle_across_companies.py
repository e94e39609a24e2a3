"""Sign-in failures are counted per address across every company and the platform admin.

A password spray from one address spread over many companies stays under
each company's own limit; the count in ``public`` stops it. The runtime role
learns nothing of other companies through it: it can record a failure and ask
"is this address over the limit", and read nothing.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connections, transaction
from django.test import Client, override_settings

from qiro import tenant_context
from sysauth.models import LoginFailure
from tests.conftest import PASSWORD, CompanyWithUsers
from tests.registration.factories import server_settings

_random = random.Random()  # noqa: S311 (test addresses, not secrets)


def fresh_address() -> str:
    """An address no other test has used (198.18.0.0/15 is for benchmarks, never routed)."""
    return f"198.{_random.randint(18, 19)}.{_random.randint(0, 255)}.{_random.randint(1, 254)}"


def attempt(client: Client, host: str, path: str, email: str, password: str) -> Any:
    return client.post(path, {"username": email, "password": password}, HTTP_HOST=host)


def throttled(response: Any) -> bool:
    context = getattr(response, "context", None)
    if getattr(response, "status_code", None) != 200 or not context or "form" not in context:
        return False
    errors = context["form"].errors.as_data().get("__all__", [])
    return any(error.code == "throttled" for error in errors)


@override_settings(QIRO_LOGIN_FAILURES_PER_ACCOUNT=1000, QIRO_LOGIN_FAILURES_PER_IP=1000)
def test_a_spray_over_several_companies_from_one_address_is_throttled_everywhere(
    live_db, company, other_company
):
    """Attack: guess passwords on two companies and the platform admin, a few tries each."""
    address = fresh_address()
    sprayer = Client(REMOTE_ADDR=address)
    with server_settings(login_failures_per_ip=4):
        for host, path in (
            (company.host, "/accounts/login/"),
            (company.host, "/accounts/login/"),
            (other_company.host, "/admin/login/"),
            ("localhost", "/admin/login/"),
        ):
            response = attempt(sprayer, host, path, f"guess@{host}", "Winter2026!")
            assert not throttled(response)
        # Each company saw only its share of the failures: its own count stays low.
        for made, seen in ((company, 2), (other_company, 1)):
            with tenant_context.company_context(made.company):
                assert LoginFailure.objects.filter(ip_address=address).count() == seen
        # Now even the right password is refused, on every login of every company.
        for host, path, email in (
            (company.host, "/accounts/login/", company.member.email),
            (company.host, "/admin/login/", company.owner.email),
            (other_company.host, "/accounts/login/", other_company.member.email),
            (other_company.host, "/admin/login/", other_company.owner.email),
            ("localhost", "/admin/login/", "staff@localhost"),
        ):
            assert throttled(attempt(sprayer, host, path, email, PASSWORD)), (host, path)
        # Another address signs in as usual.
        honest = Client(REMOTE_ADDR=fresh_address())
        response = attempt(
            honest, other_company.host, "/accounts/login/", other_company.member.email, PASSWORD
        )
        assert response.status_code == 302


@override_settings(QIRO_LOGIN_FAILURES_PER_ACCOUNT=1000, QIRO_LOGIN_FAILURES_PER_IP=1000)
def test_the_limit_is_the_owners_setting_not_the_callers(live_db, company):
    """The runtime role cannot pass a limit: the function reads the server settings."""
    address = fresh_address()
    client = Client(REMOTE_ADDR=address)
    with server_settings(login_failures_per_ip=2):
        for _ in range(2):
            attempt(client, company.host, "/accounts/login/", "nobody@example.kr", "x")
        assert throttled(
            attempt(client, company.host, "/accounts/login/", company.member.email, PASSWORD)
        )
    with server_settings(login_failures_per_ip=3):
        response = attempt(client, company.host, "/accounts/login/", company.member.email, PASSWORD)
        assert response.status_code == 302


def as_company(company: CompanyWithUsers, statement: str, params: list[Any] | None = None) -> Any:
    with (
        tenant_context.company_context(company.company),
        transaction.atomic(using="default"),
        connections["default"].cursor() as cursor,
    ):
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT ip_address, failed_at FROM public.qiro_address_login_failure",
        "DELETE FROM public.qiro_address_login_failure",
        "INSERT INTO public.qiro_address_login_failure (ip_address, failed_at) "
        "VALUES ('192.0.2.1', now())",
        "SELECT public.qiro_forget_old_login_failures()",
        "UPDATE public.qiro_server_settings SET login_failures_per_ip = 1000000",
    ],
)
def test_a_company_cannot_read_or_erase_the_failures_of_others(live_db, company, statement):
    """Attack: from a company's context, list where others fail, or wipe my own record."""
    with pytest.raises(DatabaseError, match="permission denied"):
        as_company(company, statement)


def test_a_company_only_learns_yes_or_no_about_an_address(live_db, company):
    address = fresh_address()
    with server_settings(login_failures_per_ip=1):
        assert as_company(company, "SELECT public.qiro_login_address_throttled(%s)", [address]) == [
            (False,)
        ]
        as_company(company, "SELECT public.qiro_record_login_failure(%s)", [address])
        assert as_company(company, "SELECT public.qiro_login_address_throttled(%s)", [address]) == [
            (True,)
        ]


def test_expire_sessions_forgets_failures_past_the_window(live_db):
    old, recent = fresh_address(), fresh_address()
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "INSERT INTO qiro_address_login_failure (ip_address, failed_at) VALUES "
            "(%s, now() - interval '2 days'), (%s, now())",
            [old, recent],
        )
    call_command("expire_sessions", verbosity=0)
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT host(ip_address) FROM qiro_address_login_failure "
            "WHERE ip_address = ANY(%s::inet[])",
            [[old, recent]],
        )
        assert cursor.fetchall() == [(recent,)]
