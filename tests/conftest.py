"""Test database: a real PostgreSQL database per xdist worker, made like production.

Each worker gets its own database and its own pair of runtime roles
(``test_<db>_<worker>_app`` / ``_platform``), built by the same ``bootstrap``
command that prepares a real deployment. Nothing is mocked: the suite talks
to the embedded server, or to the server in ``DATABASE_URL``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.utils import translation
from psycopg import sql
from psycopg.conninfo import make_conninfo

from deployments.scheduling.models import Schedule
from qiro import stored_text, tenant_context
from sysauth.models import User, UserType
from tenants import schema_pool
from tenants.models import Company
from tenants.services import create_company_with_migrations


def english(text: str) -> str:
    """Stored text (``qiro.stored_text``) as an English reader reads it."""
    with translation.override("en"):
        return stored_text.read(text)


def english_log(text: str) -> str:
    with translation.override("en"):
        return stored_text.read_log(text)


def one_row(conn: psycopg.Connection[Any], statement: Any) -> tuple[Any, ...]:
    """The row a statement returns, which it must."""
    row = conn.execute(statement).fetchone()
    assert row is not None
    return tuple(row)


def stop_process(process: subprocess.Popen[Any], grace: float) -> None:
    """Ask a child process to stop; kill it if it has not within ``grace`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


PASSWORD = "correct-horse-battery-staple-42"


def _maintenance_dsn() -> str:
    params = connections["owner"].get_connection_params()
    params["dbname"] = "postgres"
    keys = {"host", "port", "user", "password", "dbname"}
    return make_conninfo(**{k: str(v) for k, v in params.items() if k in keys and v})


def _drop(cursor: psycopg.Cursor, database: str, roles: list[str]) -> None:
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
    for attempt in range(5):
        try:
            cursor.execute(drop)
            break
        except psycopg.errors.ObjectInUse:
            # On Citus the drop runs on every node, where the extension's own
            # background connections may hold the database for a moment.
            if attempt == 4:
                raise
            time.sleep(1)
        except psycopg.errors.InvalidCatalogName:
            # On Citus an attempt refused midway has dropped the database on
            # some workers already, and the propagated drop then misses it
            # there: drop what is left on each worker, then on the coordinator.
            cursor.execute("SELECT run_command_on_workers(%s)", [drop.as_string(cursor)])
            cursor.execute("SET citus.enable_create_database_propagation = off")
            cursor.execute(drop)
            cursor.execute("RESET citus.enable_create_database_propagation")
            break
    for role in roles:
        cursor.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture(scope="session")
def django_db_setup(
    django_test_environment: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[None]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    # QIRO_TEST_DB_SUFFIX lets several test runs share one server at once.
    suffix = os.environ.get("QIRO_TEST_DB_SUFFIX", "")
    name = f"test_{settings.DATABASES['owner']['NAME']}{suffix}_{worker}"[:50]
    users = {"default": f"{name}_app", "platform": f"{name}_platform"}
    for alias in ("owner", "default", "platform"):
        connections[alias].close()
        settings.DATABASES[alias]["NAME"] = name
        connections[alias].settings_dict["NAME"] = name
        if alias in users:
            settings.DATABASES[alias]["USER"] = users[alias]
            connections[alias].settings_dict["USER"] = users[alias]
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        dsn = _maintenance_dsn()
        with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cursor:
            _drop(cursor, name, list(users.values()))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        call_command("bootstrap", no_superuser=True, verbosity=0)
        # The default routine stays off, so no worker of a test runs it on the hour;
        # the schedule tests turn on what they need.
        Schedule.objects.using("owner").update(enabled=False)
    yield
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        for alias in connections:
            connections[alias].close()
        with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cursor:
            _drop(cursor, name, list(users.values()))


@pytest.fixture
def live_db(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    """Database access in autocommit, as in production: what a test writes is committed."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        tenant_context.clear()
        yield
        tenant_context.clear()


@dataclass
class CompanyWithUsers:
    company: Company
    owner: User
    member: User

    @property
    def host(self) -> str:
        return f"{self.company.schema_name}.{settings.BASE_DOMAIN}"


def make_company(slug: str, brn: str, name: str) -> CompanyWithUsers:
    """A company with an owner and a member, written as the runtime role in its context."""
    company = create_company_with_migrations(
        name=name,
        business_registration_number=brn,
        schema_name=slug,
        domain=f"{slug}.{settings.BASE_DOMAIN}",
    )
    with tenant_context.company_context(company):
        owner = User.objects.create_user(
            f"owner@{slug}.example.kr", PASSWORD, user_type=UserType.OWNER, is_staff=True,
            is_superuser=True, full_name=f"{name} 대표",
        )  # fmt: skip
        member = User.objects.create_user(f"member@{slug}.example.kr", PASSWORD, full_name="직원")
    return CompanyWithUsers(company, owner, member)


@pytest.fixture(scope="session")
def two_companies(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> tuple[CompanyWithUsers, CompanyWithUsers]:
    """Companies A and B, each with data, committed for the whole session."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        a = make_company("acme", "1168200276", "에이크미 주식회사")
        b = make_company("beta", "2208162517", "베타 상사")
        tenant_context.clear()
    return a, b


@pytest.fixture(autouse=True)
def forget_address_failures_afterwards(request: pytest.FixtureRequest) -> Iterator[None]:
    """Failed sign-ins a test recorded per address are forgotten after it.

    Every test client signs in from 127.0.0.1, and the per-address count spans
    every company of the test database: without this, the suite's wrong
    passwords (the fuzzing's above all) would throttle a later test's sign-in.
    """
    yield
    if "live_db" not in request.fixturenames:
        return
    blocker = request.getfixturevalue("django_db_blocker")
    with blocker.unblock(), connections["owner"].cursor() as cursor:
        cursor.execute("DELETE FROM public.qiro_address_login_failure")


@pytest.fixture(autouse=True)
def drop_pool_schemas_afterwards(request: pytest.FixtureRequest) -> Iterator[None]:
    """Pool schemas made by a test are dropped after it: other tests see no stray schemas."""
    yield
    if "live_db" not in request.fixturenames:
        return
    with request.getfixturevalue("django_db_blocker").unblock():
        with connections["owner"].cursor() as cursor:
            names = schema_pool.pool_schemas(cursor, current_only=False)
        for name in names:
            schema_pool.drop_schema(name)


@pytest.fixture
def platform_rows(live_db: None) -> Iterator[Any]:
    """Rows of every platform model (``tests.admin_rows.PlatformRows``), removed after."""
    from tests.admin_rows import PlatformRows

    rows = PlatformRows()
    try:
        yield rows
    finally:
        rows.remove()


def platform_staff(email: str) -> User:
    """A platform superuser (public schema) who signs in with ``PASSWORD``."""
    with tenant_context.owner_context():
        staff, _ = User.objects.get_or_create(
            email=email,
            defaults={"is_staff": True, "is_superuser": True, "full_name": "플랫폼 관리자"},
        )
        staff.set_password(PASSWORD)
        staff.save()
    return staff


def admin_sign_in(client: Client, host: str, email: str, password: str = PASSWORD) -> Any:
    """Post the admin's sign-in form on ``host`` as ``email``; the response (302: signed in)."""
    return client.post(
        "/admin/login/?next=/admin/", {"username": email, "password": password}, HTTP_HOST=host
    )


@pytest.fixture
def staff_client(live_db: None) -> Client:
    """A client signed in to the platform admin as platform staff (the platform role)."""
    staff = platform_staff("platform-staff@qiro.example.kr")
    client = Client()
    response = admin_sign_in(client, "localhost", staff.email)
    assert response.status_code == 302, response.content.decode()[:300]
    return client
