"""On Citus, row security holds on the worker that stores a company's schema.

A company's schema lives on one worker (schema-based sharding); the
coordinator forwards each statement there, with the transaction's ``SET
LOCAL`` context, and the shard's own policy decides. The matrix passes on the
cluster (``test_isolation.py``); this proves it is the worker's row security
that stops the attacks: switched off on B's shard, on the worker itself, the
matrix must catch B's rows reaching A.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connections
from psycopg import sql

from qiro.db.citus import connection_is_citus
from tests.security.attacks import findings_while, run_attack_matrix


def shard_of(schema: str, table: str) -> tuple[str, int, str]:
    """(worker host, port, shard name) of a company table, from ``citus_shards``."""
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT nodename, nodeport, %s || '_' || shardid FROM citus_shards "
            "WHERE table_name = %s::regclass",
            [table, f"{schema}.{table}"],
        )
        rows = cursor.fetchall()
    assert len(rows) == 1, rows  # one shard, on one worker: the schema's placement
    return rows[0]


@contextlib.contextmanager
def row_security_off_on_worker(schema: str, table: str) -> Iterator[None]:
    """Disable row security on the shard itself, on its worker; enable it afterwards."""
    host, port, shard = shard_of(schema, table)
    params = connections["owner"].get_connection_params()
    dsn = psycopg.conninfo.make_conninfo(
        host=host, port=port, dbname=params["dbname"], user=params["user"]
    )
    shard_table = sql.Identifier(schema, shard)
    with psycopg.connect(dsn, autocommit=True) as worker:
        worker.execute(sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(shard_table))
        try:
            yield
        finally:
            worker.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(shard_table))


@pytest.fixture
def on_citus(live_db):
    if not connection_is_citus("owner"):
        pytest.skip("not a Citus server: no worker holds a company's shard")


def test_matrix_catches_row_security_off_on_bs_worker_shard(on_citus, two_companies):
    a, b = two_companies
    assert run_attack_matrix(a, b) == []
    findings = findings_while(
        row_security_off_on_worker(b.company.schema_name, "sysauth_user"), a, b
    )
    assert any("B's rows reached A" in f for f in findings), findings


def test_the_coordinator_holds_no_company_rows(on_citus, two_companies):
    """The rows are on the worker: the coordinator's table is an empty shell."""
    _, b = two_companies
    _host, port, _ = shard_of(b.company.schema_name, "sysauth_user")
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT nodeport FROM pg_dist_node WHERE groupid = 0")
        assert cursor.fetchone()[0] != port
