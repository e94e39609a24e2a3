"""Through PgBouncer in transaction pooling mode, the tenant context still holds.

A PgBouncer is started per test in front of the test database with one server
connection for the database (``default_pool_size = max_db_connections = 1``),
so every client — companies A and B, each on its own Django connection as the
runtime role — takes turns on the same PostgreSQL session. In transaction
mode PgBouncer resets nothing between clients (``server_reset_query`` is not
used), so whatever a client leaves at session level, the next one inherits.
The tests show that:

(a) A's and B's requests, interleaved on that one server session, each see
    only their own rows — and a backend that set the context once per
    connection at session level (django-tenants' way) is caught mixing them;
(b) once A's transaction is over, the next statement on that session, sent by
    another client with no context, finds the defaults and no company row
    (fail closed) — and a backend that used ``SET`` instead of ``SET LOCAL``
    is caught by the same check;
(c) Django with psycopg 3 works through it: repeated queries, ``iterator()``
    and writes, with no server-side prepared statement or held cursor left.

PgBouncer (a Debian package) is started per test by ``tests/qiro/pgbouncer.py``.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from django.db import connections, transaction
from psycopg import sql

from qiro import tenant_context
from qiro.context import TenantContext
from qiro.db.backends.runtime import base as runtime_base
from qiro.db.citus import connection_is_citus
from sysauth.models import User
from tenants.models import Company
from tests.conftest import PASSWORD, CompanyWithUsers, one_row
from tests.qiro.pgbouncer import PGBOUNCER, Bouncer, running_pgbouncer, server_address

pytestmark = pytest.mark.skipif(
    PGBOUNCER is None,
    reason="no pgbouncer binary on PATH or in /usr/sbin (Debian: apt-get install pgbouncer)",
)

ROUNDS = 12  # requests per company in the interleaving test
RENDER_CONTEXT_SQL = runtime_base.render_context_sql  # the real one, before any monkeypatch


@pytest.fixture
def pgbouncer(live_db: None, two_companies: Any) -> Iterator[Bouncer]:
    host, port, dbname = server_address()
    runtime_user = connections["default"].settings_dict["USER"]
    with running_pgbouncer(host, port, dbname, [runtime_user]) as listen_port:
        # Read on the fresh server session, before any client of the test used it.
        with psycopg.connect(
            host="127.0.0.1", port=listen_port, dbname=dbname, user=runtime_user
        ) as raw:
            row = raw.execute("SELECT current_setting('search_path')").fetchone()
        assert row is not None
        yield Bouncer(listen_port, dbname, runtime_user, fresh_search_path=row[0])


@contextlib.contextmanager
def default_alias_through(bouncer: Bouncer) -> Iterator[runtime_base.DatabaseWrapper]:
    """This thread's ``default`` alias goes through PgBouncer for the block.

    A wrapper of the project's runtime backend, so ``company_context`` and the
    ORM work as in a request; other threads keep their own connections.
    """
    wrapper = runtime_base.DatabaseWrapper(bouncer.settings_for("default"), "default")
    previous = tenant_context.runtime_connection("default")
    wrapper.set_tenant_context(previous.tenant_context)
    connections["default"] = wrapper
    try:
        yield wrapper
    finally:
        wrapper.close()
        connections["default"] = previous


def server_session() -> tuple[int, str]:
    """Backend pid of the server session and the company id it runs with (via the backend)."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), current_setting('qiro.company_id', true)")
        row = cursor.fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def emails(member: CompanyWithUsers) -> set[str]:
    return {member.owner.email, member.member.email}


def skip_on_citus() -> None:
    """The tests of a weakened backend: on Citus there is nothing for the check to catch."""
    if connection_is_citus("owner"):
        pytest.skip(
            "Citus sends no session-level SET to its workers, so the weakened backend "
            "leaks nothing there for the check to catch"
        )


# --- (a) interleaved companies on one server connection -----------------------------


@dataclass(frozen=True)
class Turn:
    company: str
    pid: int


def requests_of(
    member: CompanyWithUsers,
    bouncer: Bouncer,
    barrier: threading.Barrier,
    turns: list[Turn],
    lock: threading.Lock,
) -> list[str]:
    """ROUNDS requests of one company, each waiting for the other company's turn."""
    findings: list[str] = []
    name = member.company.schema_name
    try:
        with default_alias_through(bouncer), tenant_context.company_context(member.company):
            for number in range(ROUNDS):
                barrier.wait(timeout=60)
                # A request in a transaction (the view), then statements in
                # autocommit (as middleware and lazy loads run them).
                with transaction.atomic(using="default"):
                    seen = set(User.objects.values_list("email", flat=True))
                    pid, company_id = server_session()
                if seen != emails(member):
                    findings.append(f"{name} #{number}: saw {sorted(seen)} in a transaction")
                if company_id != str(member.company.pk):
                    findings.append(f"{name} #{number}: ran as company {company_id!r}")
                seen = set(User.objects.values_list("email", flat=True))
                if seen != emails(member):
                    findings.append(f"{name} #{number}: saw {sorted(seen)} in autocommit")
                companies = set(Company.objects.values_list("pk", flat=True))
                if companies != {member.company.pk}:
                    findings.append(f"{name} #{number}: saw companies {sorted(companies)}")
                with lock:
                    turns.append(Turn(name, pid))
    except BaseException:
        barrier.abort()
        raise
    return findings


def interleave(
    a: CompanyWithUsers, b: CompanyWithUsers, bouncer: Bouncer
) -> tuple[list[str], list[Turn]]:
    """A's and B's requests at once, each on its own client of PgBouncer."""
    barrier, lock = threading.Barrier(2), threading.Lock()
    turns: list[Turn] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(requests_of, member, bouncer, barrier, turns, lock) for member in (a, b)
        ]
        findings = [finding for future in futures for finding in future.result(timeout=300)]
    return findings, turns


def test_companies_interleaved_on_one_server_connection_see_only_their_rows(
    pgbouncer, two_companies
):
    a, b = two_companies
    findings, turns = interleave(a, b, pgbouncer)
    assert findings == []
    # The proof is only worth something if both really shared one server
    # session, taking turns: one backend pid, and the company changed between
    # requests (the barrier lets neither start a round before both ended the last).
    assert len(turns) == 2 * ROUNDS
    assert len({turn.pid for turn in turns}) == 1, turns
    switches = sum(1 for one, two in itertools.pairwise(turns) if one.company != two.company)
    assert switches >= ROUNDS, turns


def session_level_sql(conn: psycopg.Connection[Any], context: TenantContext) -> str:
    """The backend's context statements made session-level: the mistake to catch."""
    return RENDER_CONTEXT_SQL(conn, context).replace("SET LOCAL ", "SET ")


def test_a_context_set_once_per_connection_would_be_caught(pgbouncer, two_companies, monkeypatch):
    """django-tenants' way (a session-level SET when the connection's tenant
    changes) mixes the companies up behind a transaction pooler: the check sees it."""
    skip_on_citus()

    def once_per_connection(self: Any, execute: Any, sql_text: Any, params: Any, many: bool,
                            context: dict[str, Any]) -> Any:  # fmt: skip
        wanted = session_level_sql(self.connection, self.tenant_context)
        if getattr(self, "session_context", None) != wanted:
            context["cursor"].cursor.execute(wanted)
            self.session_context = wanted
        return execute(sql_text, params, many, context)

    monkeypatch.setattr(runtime_base.DatabaseWrapper, "_run_in_context", once_per_connection)
    a, b = two_companies
    findings, _ = interleave(a, b, pgbouncer)
    other = {"acme": "@beta.example.kr", "beta": "@acme.example.kr"}
    leaks = [f for f in findings if other[f.split(" ", 1)[0]] in f]
    assert leaks, findings


# --- (b) nothing is left on the pooled session --------------------------------------


def rows_seen(raw: psycopg.Connection[Any], count: sql.SQL | sql.Composed) -> int:
    """The count a statement returns; a refusal (no right on the table) sees nothing."""
    try:
        row = raw.execute(count).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        return 0
    assert row is not None
    return int(row[0])


def left_on_the_session(bouncer: Bouncer, member: CompanyWithUsers, pid: int) -> list[str]:
    """What another client without context finds on the server session ``member`` used."""
    findings = []
    with bouncer.raw_connection() as raw:
        session_pid, search_path, company_id, actor_id = one_row(
            raw,
            "SELECT pg_backend_pid(), current_setting('search_path'), "
            "current_setting('qiro.company_id', true), current_setting('qiro.actor_id', true)",
        )
        own_users = sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(member.company.schema_name, "sysauth_user")
        )
        counts = [
            rows_seen(raw, statement)
            for statement in (
                own_users,
                sql.SQL("SELECT count(*) FROM sysauth_user"),
                sql.SQL("SELECT count(*) FROM tenants_company"),
            )
        ]
    if session_pid != pid:
        findings.append(f"not the same server session ({session_pid} != {pid}): proves nothing")
    if search_path != bouncer.fresh_search_path:
        findings.append(f"search_path left as {search_path!r}")
    if company_id:
        findings.append(f"qiro.company_id left as {company_id!r}")
    if actor_id:
        findings.append(f"qiro.actor_id left as {actor_id!r}")
    names = ("the company's users", "users on the search_path", "companies")
    for label, count in zip(names, counts, strict=True):
        if count:
            findings.append(f"{label}: {count} rows seen without context")
    return findings


def work_of_a_company(bouncer: Bouncer, member: CompanyWithUsers) -> int:
    """One request of ``member`` through PgBouncer: a transaction and an autocommit read."""
    with (
        default_alias_through(bouncer),
        tenant_context.company_context(member.company, actor_id=member.owner.pk),
    ):
        with transaction.atomic(using="default"):
            assert set(User.objects.values_list("email", flat=True)) == emails(member)
            pid, company_id = server_session()
            assert company_id == str(member.company.pk)
        assert User.objects.count() == 2
        assert server_session() == (pid, str(member.company.pk))
    return pid


def test_after_a_transaction_the_pooled_session_carries_no_context(pgbouncer, two_companies):
    a, _ = two_companies
    pid = work_of_a_company(pgbouncer, a)
    assert left_on_the_session(pgbouncer, a, pid) == []


def test_a_session_level_context_would_be_caught(pgbouncer, two_companies, monkeypatch):
    """The same check fails for a backend that sets the context with plain ``SET``."""
    skip_on_citus()
    a, _ = two_companies
    monkeypatch.setattr(runtime_base, "render_context_sql", session_level_sql)
    pid = work_of_a_company(pgbouncer, a)
    findings = left_on_the_session(pgbouncer, a, pid)
    assert any("qiro.company_id left" in f for f in findings), findings
    assert any("the company's users: 2 rows" in f for f in findings), findings


# --- (c) Django and psycopg 3 through a transaction pooler -------------------------


def kept_by_the_session(bouncer: Bouncer) -> tuple[int, int, int]:
    """Backend pid, prepared statements and open cursors of the pooled server session.

    Read by another client: with one server connection it lands on the same
    session, where anything a client kept would meet the next client.
    """
    with bouncer.raw_connection() as raw:
        pid, prepared, cursors = one_row(
            raw,
            "SELECT pg_backend_pid(), (SELECT count(*) FROM pg_prepared_statements), "
            "(SELECT count(*) FROM pg_cursors)",
        )
    return int(pid), int(prepared), int(cursors)


def test_orm_reads_and_writes_work_through_transaction_pooling(pgbouncer, two_companies):
    a, _ = two_companies
    with default_alias_through(pgbouncer) as wrapper, tenant_context.company_context(a.company):
        assert wrapper.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
        pid, _ = server_session()
        # More runs of one query than psycopg's prepare threshold (5): were
        # statements prepared on the server, the pooled session would keep them.
        for _ in range(8):
            assert User.objects.filter(email=a.member.email).count() == 1
        # Half-way through an iterator, no cursor is held open on the server
        # (a WITH HOLD cursor would be, and could be fetched from another client's
        # server connection under a bigger pool).
        rows = User.objects.order_by("email").iterator(chunk_size=1)
        assert next(rows).email == min(emails(a))
        assert kept_by_the_session(pgbouncer) == (pid, 0, 0)
        assert [u.email for u in rows] == sorted(emails(a))[1:]
        # Writes: autocommit, a transaction, a savepoint rolled back.
        user = User.objects.create_user("pooled@acme.example.kr", PASSWORD, full_name="풀")
        with transaction.atomic(using="default"):
            User.objects.filter(pk=user.pk).update(full_name="풀링")
            with contextlib.suppress(RuntimeError), transaction.atomic(using="default"):
                User.objects.filter(pk=user.pk).update(full_name="되돌림")
                raise RuntimeError("roll back to the savepoint")
        user.refresh_from_db()
        assert (user.full_name, user.company_id) == ("풀링", a.company.pk)
        user.delete()
        assert not User.objects.filter(email="pooled@acme.example.kr").exists()
    assert kept_by_the_session(pgbouncer) == (pid, 0, 0)
