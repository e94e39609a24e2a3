"""Helpers for the deployment tests: subprocesses on the test database, fingerprints."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.utils import translation

from qiro import tenant_context
from qiro.db import pg

ROOT = Path(__file__).resolve().parents[2]
# Tables of the platform's own deployment records (kept across a restore on purpose).
# The platform's audit log records the deploy too (its request, written before the backup).
RECORD_PREFIXES = (
    "public.deployments_",
    "public.django_tasks_database_",
    "public.sysauth_auditentry",
)


def owner_database_url() -> str:
    """DATABASE_URL of this worker's test database (its runtime roles follow from the name)."""
    params = pg.owner_params()
    url = f"postgresql://{params['user']}@/{params['dbname']}?host={params['host']}"
    if params.get("port"):
        url += f"&port={params['port']}"
    return url


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": owner_database_url(), "PYTHONPATH": str(ROOT)}
    env.update(extra)
    return env


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    """Poll ``condition`` until it gives something true (returned), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def in_english() -> Any:
    """Results are translated; the tests that use this read the English ones."""
    with translation.override("en"):
        yield


def manage(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


def fingerprints(*, schemas: list[str] | None = None) -> dict[str, Any]:
    """Rows and checksums per table, leaving out the deployment records themselves."""
    with pg.connect() as conn:
        found = pg.table_fingerprints(conn, schemas=schemas, checksums=True)
    return {k: v for k, v in found.items() if not k.startswith(RECORD_PREFIXES)}


@pytest.fixture
def platform(live_db):
    """The platform context (platform role) in which admin requests and the worker run."""
    with tenant_context.platform_context():
        yield


@pytest.fixture
def backup_dir(tmp_path):
    previous = settings.QIRO_BACKUP_DIR
    settings.QIRO_BACKUP_DIR = tmp_path / "backups"
    yield settings.QIRO_BACKUP_DIR
    settings.QIRO_BACKUP_DIR = previous


def owner_execute(statement: Any, params: list[Any] | None = None) -> None:
    with pg.connect() as conn:
        conn.execute(statement, params)
    connections["owner"].close()


CITUS_RESTORE = (
    "Citus: a pg_dump of the coordinator holds the distributed schemas' DDL without their "
    "rows (they live on the workers), and Citus refuses that DDL replayed (ALTER TABLE … ADD "
    "GENERATED … AS IDENTITY) and CREATE DATABASE from template0, so QIRO refuses such a "
    "restore there (backups.refuse_on_citus); a cluster is restored per node"
)


@pytest.fixture
def restores_from_a_dump(live_db: None) -> None:
    """For a test that backs up or restores by pg_dump: skipped on Citus (``CITUS_RESTORE``).

    The backup tests too: on Citus a backup holds no company rows, and pg_dump
    locks only the coordinator's shell tables, which the fault tests rely on.
    """
    from qiro.db.citus import connection_is_citus

    if connection_is_citus("owner"):
        pytest.skip(CITUS_RESTORE)
