"""Filling the warm pool under observation: which schemas a fill migrated and which it cloned.

Shared by the pool's tests: the ``fill`` fixture (an empty pool, and a fill
that records what it did), the pool's schemas, raw statements as the owner,
and ``clones_from_a_dump`` for the tests that need a clone made from pg_dump.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connections
from psycopg import sql

from tenants import provisioning, schema_pool

ADMIN = provisioning.FirstAdministrator(
    email="admin@cloned.example.kr",
    full_name="복제 관리자",
    password_hash=make_password("Qiro-clone-2026!"),
)


class Fill:
    """Which schemas a fill built by migrations and which it cloned (and from what)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.migrated: list[str] = []
        self.cloned: list[tuple[str, str]] = []  # (template, clone)
        build, clone = schema_pool.build_schema_with_migrations, schema_pool.clone_schema

        def build_spy(name: str, **kwargs: Any) -> None:
            self.migrated.append(name)
            build(name, **kwargs)

        def clone_spy(conn: Any, template: schema_pool.Template, name: str) -> None:
            clone(conn, template, name)
            self.cloned.append((template.name, name))

        monkeypatch.setattr(schema_pool, "build_schema_with_migrations", build_spy)
        monkeypatch.setattr(schema_pool, "clone_schema", clone_spy)

    def __call__(self, size: int) -> list[str]:
        self.migrated.clear()
        self.cloned.clear()
        return schema_pool.fill_schema_pool(size=size)


@pytest.fixture
def fill(live_db: None, monkeypatch: pytest.MonkeyPatch) -> Fill:
    empty_pool()
    return Fill(monkeypatch)


def empty_pool() -> None:
    with connections["owner"].cursor() as cursor:
        names = schema_pool.pool_schemas(cursor, current_only=False)
    for name in names:
        schema_pool.drop_schema(name)


def ready_pool() -> list[str]:
    with connections["owner"].cursor() as cursor:
        return schema_pool.pool_schemas(cursor, current_only=True)


def run(statement: sql.Composable, params: Any = None) -> Any:
    with connections["owner"].cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


@pytest.fixture
def clones_from_a_dump(live_db: None) -> None:
    """For a test of the clone from pg_dump's DDL: skipped on Citus, which refuses it."""
    from qiro.db.citus import connection_is_citus

    if connection_is_citus("owner"):
        pytest.skip(
            "Citus refuses pg_dump's DDL replayed (ALTER TABLE … ADD GENERATED … AS "
            "IDENTITY): there the pool builds every schema by migrations, so no clone is made"
        )
