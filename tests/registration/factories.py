"""Builders of sign-up data (valid BRNs, form posts, verified applications) and the reads
of it that the sign-up tests share."""

from __future__ import annotations

import contextlib
import itertools
import random
import re
from collections.abc import Iterator
from typing import Any

from django.core import mail
from django.db import connections

from qiro.server_settings import write_server_settings
from registration import services
from tenants.validators import brn_check_digit

PASSWORD = "Qiro-sign-up-2026!"
_counter = itertools.count(1)
_random = random.Random()  # noqa: S311 (test data, not secrets)


def valid_brn() -> str:
    """A fresh BRN with a correct check digit and valid stdnum components."""
    first = f"{_random.randint(101, 999)}{_random.randint(1, 99):02d}{_random.randint(1, 9999):04d}"
    return first + str(brn_check_digit(first))


def unique_label(prefix: str = "co") -> str:
    return f"{prefix}{next(_counter)}x{_random.randint(1000, 9999)}"


def signup_post(**overrides: str) -> dict[str, str]:
    label = unique_label()
    data = {
        "company_name": "한빛 소프트 주식회사",
        "business_registration_number": valid_brn(),
        "representative_name": "김대표",
        "business_type": "서비스업 / 소프트웨어 개발",
        "address": "서울특별시 강남구 테헤란로 1",
        "contact_email": f"contact@{label}.example.kr",
        "phone": "010-1234-5678",
        "subdomain": label,
        "admin_full_name": "이관리",
        "admin_email": f"admin@{label}.example.kr",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "terms": "on",
    }
    data.update(overrides)
    return data


def signup_data(**overrides: str) -> services.SignupData:
    post = signup_post(**overrides)
    return services.SignupData(
        company_name=post["company_name"],
        business_registration_number=post["business_registration_number"],
        representative_name=post["representative_name"],
        business_type=post["business_type"],
        address=post["address"],
        contact_email=post["contact_email"],
        phone=post["phone"],
        subdomain=post["subdomain"],
        admin_full_name=post["admin_full_name"],
        admin_email=post["admin_email"],
        language="ko",
    )


def link_token(message_body: object) -> str:
    match = re.search(r"/signup/verify/([^/\s]+)/", str(message_body))
    assert match, message_body
    return match[1]


def submitted(**overrides: str) -> tuple[services.Application, str]:
    """An application submitted through the service, and the token of its e-mail."""
    outbox_before = len(mail.outbox)
    application = services.submit_application(
        data=signup_data(**overrides),
        password=PASSWORD,
        verify_url=lambda token: f"http://localhost/signup/verify/{token}/",
    )
    return application, link_token(mail.outbox[outbox_before].body)


def verified(**overrides: str) -> services.Application:
    application, token = submitted(**overrides)
    assert services.verify_email(token=token) == "verified"
    return application


def latest_migration() -> str:
    """The name of the app's newest migration: where a test that migrates back returns."""
    from django.db.migrations.loader import MigrationLoader

    ((_app, name),) = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes(
        "registration"
    )
    return name


def as_owner(statement: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """A statement run as the owner (past every policy); the rows it returns, if any."""
    with connections["owner"].cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def page_text(response: Any, status: int) -> str:
    """The text of a page, after checking that it answered with ``status``."""
    assert response.status_code == status
    return str(response.content.decode())


def expire_token(application: services.Application) -> None:
    """Move the application's verification token one second past its expiry."""
    as_owner(
        "UPDATE registration_emailverificationtoken "
        "SET expires_at = now() - interval '1 second' WHERE application_id = %s",
        [application.pk],
    )


@contextlib.contextmanager
def server_settings(**values: object) -> Iterator[None]:
    """Owner-written limits (``public.qiro_server_settings``) changed for a block, then restored."""
    with connections["owner"].cursor() as cursor:
        write_server_settings(cursor, **values)
    try:
        yield
    finally:
        with connections["owner"].cursor() as cursor:
            write_server_settings(cursor)
