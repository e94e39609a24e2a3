"""``bench/versus.py``'s QIRO side: one process, QIRO's settings, the ``small`` scale."""

from __future__ import annotations

import os
import time
from typing import Any

import data
from versus_pages import page  # noqa: F401 - answered by name

PREFIX = "bench_vs_"


def prepare() -> dict[str, Any]:
    os.environ["DJANGO_EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    data.ensure_scale("small")
    from django.test import Client

    forget_leftovers()

    host = data.host_of(1)
    signed_in = Client(HTTP_HOST=host)
    credentials = {"username": data.admin_email(1), "password": data.PASSWORD}
    answer = signed_in.post("/accounts/login/", credentials, secure=True)
    assert answer.status_code == 302, answer.content[:300]
    return {"host": host, "clients": {"home": Client(HTTP_HOST=host), "admin": signed_in},
            "created": [], "applications": []}  # fmt: skip


def ready(state: dict[str, Any]) -> dict[str, Any]:
    return {"host": state["host"], "login": "/accounts/login/", "email": data.admin_email(1),
            "password": data.PASSWORD}  # fmt: skip


def warm(state: dict[str, Any], creations: int) -> None:
    """The schema pool filled for the approvals to come: its point is work done ahead."""
    from django.db import connections

    from tenants import schema_pool

    with connections["owner"].cursor() as cursor:
        have = len(schema_pool.pool_schemas(cursor, current_only=True))
    if have < creations:
        schema_pool.fill_schema_pool(size=creations)


def create(state: dict[str, Any]) -> list[float]:
    """One application, verified (not timed), then approved (timed)."""
    from django.contrib.auth.hashers import make_password
    from django.db import connections

    from registration import actions, services
    from sysauth.models import User
    from tenants.validators import brn_check_digit

    number = len(state["created"])
    reviewer = User.objects.db_manager("owner").get(email=http_admin())
    nine = f"97{number % 10}{(number // 10) % 100 + 1:02d}{number + 1:04d}"
    subdomain = f"{PREFIX}{number}".replace("_", "-")
    signup = services.SignupData(
        company_name=f"비교 회사 {number}",
        business_registration_number=nine + str(brn_check_digit(nine)),
        representative_name="대표", business_type="서비스업", address="서울",
        contact_email=f"vs{number}@bench.example.kr", phone="010-1234-5678", subdomain=subdomain,
        admin_full_name="관리자", admin_email=f"vs-admin{number}@bench.example.kr", language="ko",
    )  # fmt: skip
    password = make_password(data.PASSWORD)
    application = services.submit_application(data=signup, password=password, verify_url=str)
    state["applications"].append(application.pk)
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "UPDATE registration_application SET status = 'email_verified', "
            "email_verified_at = now(), admin_password_hash = %s WHERE id = %s",
            [password, application.pk],
        )
    began = time.perf_counter()
    actions.approve_application(application_id=application.pk, acting_user=reviewer)
    elapsed = (time.perf_counter() - began) * 1000
    state["created"].append(subdomain.replace("-", "_"))
    return [elapsed]


def http_admin() -> str:
    """The platform administrator who approves (made once)."""
    import http_load

    http_load.prepare()
    return http_load.PLATFORM_ADMIN


def migrate(state: dict[str, Any]) -> list[float]:
    from deployments import deploys
    from qiro import tenant_context

    began = time.perf_counter()
    with tenant_context.platform_context():
        deploys.deploy()
    return [(time.perf_counter() - began) * 1000]


def schemas(state: dict[str, Any]) -> int:
    from tenants.models import Company

    return Company.objects.using("owner").count()


def finish(state: dict[str, Any]) -> None:
    forget_leftovers()


def forget_leftovers() -> None:
    """Every company and application this bench made (also those of a run that broke off)."""
    from qiro import tenant_context
    from registration.models import Application
    from tenants import schema_pool
    from tenants.models import Company

    with tenant_context.owner_context():
        mine = Company.objects.filter(schema_name__startswith=PREFIX)
        made = list(mine.values_list("schema_name", flat=True))
        Company.objects.filter(schema_name__in=made).delete()
        Application.objects.filter(subdomain__startswith=PREFIX.replace("_", "-")).delete()
        for schema in made:
            schema_pool.drop_schema(schema)
