"""The benchmarks at the ``small`` scale, as a smoke test: they run, and what they read is right.

No timing is asserted (this machine is shared and noisy): the scripts check
their own answers (companies listed, a page of users with roles, no row of
another company, pages served, sign-ins accepted) and exit non-zero when one
is wrong. They build their own database next to the test database and drop it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.conftest import _maintenance_dsn

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *args: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{script}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture
def bench_database(django_db_setup: None) -> Iterator[tuple[str, str]]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    suffix = os.environ.get("QIRO_TEST_DB_SUFFIX", "")
    name = f"test_bench{suffix}_{worker}"[:50]
    dsn = _maintenance_dsn()
    yield name, dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        for database in (name, f"{name}_peer"):
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
        for role in ("app", "platform"):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(f"{name}_{role}")))


def test_small_scale_builds_and_every_benchmark_answers_correctly(bench_database, tmp_path):
    name, _ = bench_database
    env = {
        **os.environ,
        "QIRO_BENCH_DATABASE": name,
        "QIRO_BENCH_RESULTS": str(tmp_path),
        # The benchmarks collect static files; the other workers' WhiteNoise reads the project's.
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run("data.py", "small", "--rebuild", env=env)
    built = json.loads((tmp_path / "data-small.json").read_text())
    assert built["rows"]["companies"] == 50
    assert built["rows"]["users"] == 5_000
    assert built["rows"]["token_partitions"] >= 12
    assert built["rows"]["history"] >= 20_000

    run("queries.py", "small", "--runs", "3", env=env)
    queries = json.loads((tmp_path / "queries-small.json").read_text())
    assert set(queries["rls_overhead_p50"]) == {
        "platform: companies",
        "company: users+roles",
        "company: user count",
        "company: 30d history",
    }

    run("http_load.py", "small", "--runs", "2", "--browsers", "2", "--rounds", "1", "--logins", "5",
        "--workers", "2", env=env)  # fmt: skip
    pages = json.loads((tmp_path / "http-small.json").read_text())
    assert pages["concurrent_logins"] == "5/5 succeeded"

    run("admin_lists.py", "small", "--runs", "1", env=env)
    lists = json.loads((tmp_path / "admin_lists-small.json").read_text())
    assert len(lists["planned_over_django_p50"]) == 13

    # QIRO beside the plain django-tenants project: both sides answer every measure.
    peer_env = {**env, "QIRO_BENCH_PEER_DATABASE": f"{name}_peer"}
    run("versus.py", "--requests", "20", "--rounds", "2", "--creations", "1", "--migrate-runs", "1",
        "--peer-tenants", "2", env=peer_env)  # fmt: skip
    versus = json.loads((tmp_path / "versus.json").read_text())
    assert set(versus["ratios_qiro_over_peer"]) == {
        "test client: home", "test client: admin", "gunicorn: home", "gunicorn: admin",
        "tenant creation", "no-op migrate",
    }  # fmt: skip
    assert versus["tenant_schemas"] == {"qiro": 51, "peer": 3}
    run("api.py", "small", "--runs", "2", "--logins", "3", "--calls", "5", "--workers", "2",
        env=env)  # fmt: skip
    api = json.loads((tmp_path / "api-small.json").read_text())
    assert api["concurrent_sign_ins"].startswith("3/3 succeeded")
    assert api["concurrent_me"].startswith("5/5 succeeded")
    assert set(api["plans"]) == {"history, deep", "history of a user, first page", "users, deep"}
