"""``bench/versus.py``'s django-tenants side: one process, ``bench/peer/``'s settings."""

from __future__ import annotations

import os
import time
from typing import Any

import data
import psycopg
from psycopg import sql
from versus_pages import page  # noqa: F401 - answered by name

ADMIN = "admin@peer.example.kr"


def schema_of(number: int) -> str:
    return f"peer_t{number:04d}"


def host_of(number: int) -> str:
    return f"peer-t{number:04d}.localhost"


def create_database() -> None:
    name = os.environ["PEER_DB_NAME"]
    parts = {"dbname": "postgres", "user": os.environ["PEER_DB_USER"],
             "host": os.environ["PEER_DB_HOST"], "port": os.environ["PEER_DB_PORT"]}  # fmt: skip
    conninfo = psycopg.conninfo.make_conninfo(**{k: v for k, v in parts.items() if v})
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def new_tenant(schema: str, host: str) -> Any:
    from django.db import connection
    from peer.customers.models import Client, Domain

    connection.set_schema_to_public()  # type: ignore[attr-defined]

    tenant = Client(schema_name=schema, name=f"피어 {schema}")
    tenant.save()
    Domain.objects.create(domain=host, tenant=tenant, is_primary=True)
    return tenant


def prepare() -> dict[str, Any]:
    create_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client as TestClient
    from django_tenants.utils import schema_context
    from peer.customers.models import Client

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    if not Client.objects.filter(schema_name="public").exists():
        new_tenant("public", "localhost")
    have = set(Client.objects.values_list("schema_name", flat=True))
    for number in range(int(os.environ["PEER_TENANTS"])):
        if schema_of(number) not in have:
            new_tenant(schema_of(number), host_of(number))
    with schema_context(schema_of(0)):
        from django.contrib.auth.models import User

        if not User.objects.filter(username=ADMIN).exists():
            User.objects.create_superuser(ADMIN, ADMIN, data.PASSWORD)
    host = host_of(0)
    signed_in = TestClient(HTTP_HOST=host)
    answer = signed_in.post(
        "/admin/login/?next=/admin/", {"username": ADMIN, "password": data.PASSWORD}, secure=True
    )
    assert answer.status_code == 302, answer.content[:300]
    return {"host": host, "clients": {"home": TestClient(HTTP_HOST=host), "admin": signed_in},
            "created": []}  # fmt: skip


def ready(state: dict[str, Any]) -> dict[str, Any]:
    return {"host": state["host"], "login": "/admin/login/", "email": ADMIN,
            "password": data.PASSWORD}  # fmt: skip


def warm(state: dict[str, Any], creations: int) -> None:
    """Nothing: django-tenants builds each schema when its tenant is saved."""


def create(state: dict[str, Any]) -> list[float]:
    number = len(state["created"])
    schema = f"peer_new_{number}"
    began = time.perf_counter()
    new_tenant(schema, f"peer-new-{number}.localhost")
    elapsed = (time.perf_counter() - began) * 1000
    state["created"].append(schema)
    return [elapsed]


def migrate(state: dict[str, Any]) -> list[float]:
    from django.core.management import call_command
    from django.db import connection

    connection.set_schema_to_public()  # type: ignore[attr-defined]
    began = time.perf_counter()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    return [(time.perf_counter() - began) * 1000]


def schemas(state: dict[str, Any]) -> int:
    from django.db import connection
    from peer.customers.models import Client

    connection.set_schema_to_public()  # type: ignore[attr-defined]

    return Client.objects.exclude(schema_name="public").count()


def finish(state: dict[str, Any]) -> None:
    from peer.customers.models import Client

    for tenant in Client.objects.filter(schema_name__in=state["created"]):
        tenant.auto_drop_schema = True
        tenant.delete(force_drop=True)
