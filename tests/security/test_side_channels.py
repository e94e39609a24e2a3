"""Side channels: what a runtime session learns of other companies from the server's statistics.

Every company runs as the same runtime role, so PostgreSQL's own bookkeeping
would show a session of company A the statements of company B's sessions and
the counters of B's tables. ``qiro.db.side_channels`` (applied by
``bootstrap``, which built this test database) closes that; each attack here
runs as the runtime role in A's context, and finds something when the revoke
is removed. The owner's monitoring is checked to still see everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connections
from psycopg.conninfo import make_conninfo

from deployments.services import runtime_roles
from deployments.verification import Verifier
from deployments.verification.base import INFO
from qiro import tenant_context
from qiro.db import pg, side_channels
from qiro.db.roles import close_side_channels, role_name
from tests.conftest import CompanyWithUsers
from tests.security.attacks import query

CONNINFO_KEYS = ("host", "port", "user", "password", "dbname")


def runtime_session() -> psycopg.Connection[Any]:
    """Another session of the runtime role, as another request's connection would be."""
    params = connections["default"].get_connection_params()
    conninfo = make_conninfo(**{k: str(params[k]) for k in CONNINFO_KEYS if params.get(k)})
    return psycopg.connect(conninfo, autocommit=True)


@pytest.fixture
def b_session(live_db, two_companies) -> Iterator[tuple[psycopg.Connection[Any], str]]:
    """Company B's session: it ran a statement with a marker in it, and holds a lock on B's table.

    The marker is both a literal (kept by pg_stat_activity) and a column alias
    (kept by pg_stat_statements, which replaces literals with placeholders).
    """
    _, b = two_companies
    marker = f"beta_secret_{uuid.uuid4().hex[:12]}"
    conn = runtime_session()
    table = psycopg.sql.Identifier(b.company.schema_name, "sysauth_user")
    conn.execute(
        psycopg.sql.SQL("SELECT {} AS {}").format(
            psycopg.sql.Literal(marker), psycopg.sql.Identifier(marker)
        )
    )
    conn.execute("BEGIN")
    conn.execute(psycopg.sql.SQL("SELECT count(*) FROM {}").format(table))  # a lock, no rows
    conn.execute(
        psycopg.sql.SQL("SELECT {} AS {}").format(
            psycopg.sql.Literal(marker), psycopg.sql.Identifier(marker)
        )
    )
    try:
        yield conn, marker
    finally:
        conn.close()


def in_a(two_companies: tuple[CompanyWithUsers, CompanyWithUsers]) -> Any:
    return tenant_context.company_context(two_companies[0].company)


def owner_rows(statement: str, params: list[Any] | None = None) -> list[Any]:
    with pg.connect() as conn:
        return conn.execute(statement, params).fetchall()


def has_statement_statistics() -> bool:
    return bool(owner_rows("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"))


QUERY_TEXT_PROBES = {
    "pg_stat_activity": "SELECT query FROM pg_stat_activity",
    "pg_stat_get_activity()": "SELECT query FROM pg_catalog.pg_stat_get_activity(NULL)",
    "pg_stat_get_backend_activity()": (
        "SELECT pg_catalog.pg_stat_get_backend_activity(b) "
        "FROM pg_catalog.pg_stat_get_backend_idset() b"
    ),
}
STATEMENT_STATISTICS_PROBES = {
    "pg_stat_statements": "SELECT query FROM pg_stat_statements",
    "pg_stat_statements()": "SELECT query FROM pg_stat_statements(true)",
}


def test_a_cannot_read_the_statements_of_b_sessions(b_session, two_companies):
    """Attack: read another session's query text, literals included, as the runtime role."""
    _, marker = b_session
    probes = dict(QUERY_TEXT_PROBES)
    if has_statement_statistics():
        probes.update(STATEMENT_STATISTICS_PROBES)
    findings = []
    with in_a(two_companies):
        for label, statement in probes.items():
            seen = query(statement)
            if seen is not None and any(marker in str(text) for text in seen):
                findings.append(f"{label}: B's statement is visible to A")
            elif seen is not None and label in STATEMENT_STATISTICS_PROBES:
                # pg_stat_statements keeps only the most used entries, so B's may
                # be gone already; any statement of the shared role is a finding.
                findings.append(f"{label}: the runtime role's statements are readable")
    assert findings == []


def test_the_owner_still_sees_every_session(b_session):
    """Control, and owner-side monitoring: the statement the attack looked for is there."""
    _, marker = b_session
    texts = [row[0] for row in owner_rows("SELECT query FROM pg_stat_activity")]
    assert any(marker in (text or "") for text in texts)


def test_pg_stat_statements_is_closed_to_the_runtime_roles_and_open_to_the_owner(b_session):
    if not has_statement_statistics():
        pytest.skip("pg_stat_statements is not created in this database (not preloaded)")
    with pg.connect() as conn:
        results = Verifier(conn, runtime_roles=runtime_roles()).run_check("slow_statements")
    assert [r.outcome for r in results] == [INFO]
    # The owner reads every role's statements (one entry may be evicted already:
    # the table keeps the most used ones).
    assert owner_rows("SELECT count(DISTINCT userid) FROM pg_stat_statements")[0][0] >= 2
    for alias in ("default", "platform"):
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT has_table_privilege('pg_stat_statements', 'SELECT')")
            assert cursor.fetchone() == (False,), alias


ROW_COUNT_PROBES = {
    "pg_stat_user_tables": (
        "SELECT n_live_tup::text FROM pg_stat_user_tables WHERE schemaname = %s "
        "AND relname = 'sysauth_user'"
    ),
    "pg_stat_all_tables": (
        "SELECT n_tup_ins::text FROM pg_stat_all_tables WHERE schemaname = %s "
        "AND relname = 'sysauth_user'"
    ),
    "pg_statio_user_tables": (
        "SELECT heap_blks_read::text FROM pg_statio_user_tables WHERE schemaname = %s "
        "AND relname = 'sysauth_user'"
    ),
    "pg_stat_user_indexes": (
        "SELECT idx_scan::text FROM pg_stat_user_indexes WHERE schemaname = %s "
        "AND relname = 'sysauth_user'"
    ),
    "pg_stat_get_live_tuples()": (
        "SELECT pg_catalog.pg_stat_get_live_tuples(to_regclass(%s || '.sysauth_user'))::text"
    ),
    "pg_stat_get_tuples_inserted()": (
        "SELECT pg_catalog.pg_stat_get_tuples_inserted(to_regclass(%s || '.sysauth_user'))::text"
    ),
}


def test_a_cannot_read_the_row_counters_of_b_tables(live_db, two_companies):
    """Attack: count B's users (or see its activity) from the statistics, as the runtime role.

    Any answer about B's table is a finding, a zero too: it is B's figure.
    """
    _, b = two_companies
    findings = []
    with in_a(two_companies):
        for label, statement in ROW_COUNT_PROBES.items():
            seen = query(statement, [b.company.schema_name])
            if seen:
                findings.append(f"{label}: A reads {sorted(seen)} about B's sysauth_user")
    assert findings == []


def test_the_owner_still_reads_every_table_counter(live_db, two_companies):
    _, b = two_companies
    rows = owner_rows(ROW_COUNT_PROBES["pg_stat_user_tables"], [b.company.schema_name])
    assert len(rows) == 1
    with pg.connect() as conn:
        results = Verifier(conn, runtime_roles=runtime_roles()).run_check("dead_tuples")
    assert [r.outcome for r in results] == [INFO]


def test_a_cannot_see_which_of_b_tables_are_locked(b_session, two_companies):
    """Attack: see B's open transaction and the tables it touches through pg_locks."""
    _, b = two_companies
    statement = (
        "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s"
    )
    with in_a(two_companies):
        seen = query(statement, [b.company.schema_name])
    assert not seen, f"pg_locks shows A that B holds locks on {sorted(seen or [])}"
    assert owner_rows(statement, [b.company.schema_name])  # the owner does see them


@pytest.mark.parametrize("signal", ["pg_cancel_backend", "pg_terminate_backend"])
def test_a_cannot_cancel_or_end_b_session(b_session, two_companies, signal):
    """Attack: stop company B's request by signalling its backend (same runtime role).

    The pid is taken from the owner here: hiding pg_stat_activity alone would
    not stop an attacker who guesses pids.
    """
    conn, _ = b_session
    pid = conn.info.backend_pid
    with in_a(two_companies):
        answer = query(
            psycopg.sql.SQL("SELECT {}(%s)").format(psycopg.sql.Identifier(signal)), [pid]
        )
    assert answer is None, f"{signal} of B's backend was allowed: {answer}"
    conn.execute("ROLLBACK")  # B's session is still alive
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_pg_stats_hides_the_values_of_row_secured_tables(live_db, two_companies):
    """Attack: read B's most common e-mails from the planner statistics (PostgreSQL hides them)."""
    from qiro.db.citus import connection_is_citus

    if connection_is_citus("owner"):
        pytest.skip(
            "Citus: ANALYZE fills the statistics of the shard on its worker; the coordinator's "
            "shell table has none, so the check's own control (the owner sees them) cannot run"
        )
    _, b = two_companies
    with pg.connect() as conn:
        conn.execute(
            psycopg.sql.SQL("ANALYZE {}").format(
                psycopg.sql.Identifier(b.company.schema_name, "sysauth_user")
            )
        )
    statement = "SELECT attname FROM pg_stats WHERE schemaname = %s AND tablename = 'sysauth_user'"
    assert owner_rows(statement, [b.company.schema_name])  # the statistics exist
    with in_a(two_companies):
        assert query(statement, [b.company.schema_name]) == set()


def test_what_stays_open_is_what_the_readme_says(live_db, two_companies):
    """Open, and written down: the catalogs are every session's (the ORM reads them too).

    A's session sees that B's schema exists, B's planner estimate of its rows and
    the size of its table on disk; never a row, a statement or a counter.
    """
    _, b = two_companies
    schema = b.company.schema_name
    with in_a(two_companies):
        assert query("SELECT nspname FROM pg_namespace WHERE nspname = %s", [schema]) == {schema}
        for statement in (
            "SELECT reltuples::text FROM pg_class WHERE oid = to_regclass(%s || '.sysauth_user')",
            "SELECT pg_relation_size(to_regclass(%s || '.sysauth_user'))::text",
        ):
            seen = query(statement, [schema])
            assert seen is not None
            assert len(seen) == 1, statement


def test_closing_is_idempotent_and_refused_without_a_superuser(live_db):
    with connections["owner"].cursor() as cursor:
        assert close_side_channels(cursor) is None
        assert close_side_channels(cursor) is None
        closed = side_channels.statistics_objects(cursor, list(runtime_roles().values()))
    names = {o.name for o in closed}
    assert {"pg_catalog.pg_stat_activity", "pg_catalog.pg_locks"} <= names
    assert "pg_catalog.pg_stat_get_activity(integer)" in names
    assert [o.name for o in closed if o.still_open] == []
    # A non-superuser may not change PostgreSQL's own privileges: told so, nothing done.
    with connections["platform"].cursor() as cursor:
        message = side_channels.close_statistics_side_channels(cursor, [role_name("app")])
    assert message is not None
    assert "not a superuser" in message
    assert "manage.py bootstrap" in message
