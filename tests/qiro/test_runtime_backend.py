"""The runtime backend's contract with Django: what it shows, what it refuses and why.

Real database, runtime role, a company's context. The context prefix is sent
with the statement but never shown; server-side cursors and statements that
cannot run in a transaction block are refused with a message naming the way
out, not left to a PostgreSQL syntax or transaction-block error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import NotSupportedError, connections, reset_queries, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from qiro import tenant_context
from sysauth.models import User

RUNTIME = "default"


@pytest.fixture
def in_a(live_db, two_companies):
    a, _ = two_companies
    with tenant_context.company_context(a.company, actor_id=a.owner.pk):
        yield two_companies


def emails_of_company() -> set[str]:
    return set(User.objects.values_list("email", flat=True))


def execute(statement: str) -> None:
    with connections[RUNTIME].cursor() as cursor:
        cursor.execute(statement)


def maybe_in_a_transaction(in_transaction: bool, body: Callable[[], object]) -> None:
    if in_transaction:
        with transaction.atomic(using=RUNTIME):
            body()
    else:
        body()


# --- what Django shows of a statement ----------------------------------------------


def test_captured_queries_leave_out_the_context_prefix(in_a):
    a, b = in_a
    with CaptureQueriesContext(connections[RUNTIME]) as captured:
        outside = emails_of_company()  # autocommit: this statement carries the prefix
        with transaction.atomic(using=RUNTIME):
            inside = emails_of_company()  # the transaction's first statement carries it
    # The statements ran in A's context...
    assert {a.owner.email, a.member.email} <= outside == inside
    assert not outside & {b.owner.email, b.member.email}
    # ...and what Django recorded is the query as written, the prefix left out.
    selects = [q["sql"] for q in captured.captured_queries if "sysauth_user" in q["sql"]]
    assert len(selects) == 2
    for shown in selects:
        assert shown.startswith('SELECT "sysauth_user"."email" AS "email" FROM "sysauth_user"')
    assert not [q for q in captured.captured_queries if "SET LOCAL" in q["sql"]]


@override_settings(DEBUG=True)
def test_connection_queries_leave_out_the_context_prefix(in_a):
    a, _ = in_a
    reset_queries()
    User.objects.filter(email=a.member.email).exists()
    shown = connections[RUNTIME].queries
    assert shown
    assert "SET LOCAL" not in shown[-1]["sql"]
    assert shown[-1]["sql"].startswith("SELECT 1 AS")
    assert f"'{a.member.email}'" in shown[-1]["sql"]  # parameters bound as usual


def test_backend_log_leaves_out_the_context_prefix(in_a, caplog):
    with (
        caplog.at_level(logging.DEBUG, logger="django.db.backends"),
        CaptureQueriesContext(connections[RUNTIME]),
        connections[RUNTIME].cursor() as cursor,
    ):
        cursor.execute("SELECT %s::int + 1", [41])
        assert cursor.fetchone() == (42,)
    logged = [r for r in caplog.records if getattr(r, "alias", None) == RUNTIME]
    assert logged
    for record in logged:
        assert "SET LOCAL" not in record.getMessage()
        assert "SET LOCAL" not in str(getattr(record, "sql", ""))
    assert any(r.sql == "SELECT 41::int + 1" for r in logged)


def sent_in_the_context_of(made: Any, statement: str) -> tuple[str, Any]:
    """Run ``statement`` in ``made``'s context (it sees that company): what the server
    received, and what Django logged."""
    with (
        CaptureQueriesContext(connections[RUNTIME]) as captured,
        connections[RUNTIME].cursor() as cursor,
    ):
        cursor.execute(statement)
        assert cursor.fetchone() == (str(made.company.pk),)
        return cursor.cursor._query.query.decode(), captured


def test_the_statement_sent_still_carries_the_context(in_a):
    """The prefix is hidden from view only: the server still receives it."""
    if getattr(connections[RUNTIME], "context_apart", False):
        pytest.skip("Citus: the context is a statement of its own there")
    statement = "SELECT current_setting('qiro.company_id', true)"
    sent, captured = sent_in_the_context_of(in_a[0], statement)
    assert sent.startswith("SET LOCAL search_path")
    assert sent.endswith(statement)
    assert captured.captured_queries[-1]["sql"] == statement


def test_on_citus_the_statement_is_sent_alone_after_its_context(in_a):
    """The context is a statement of its own (Citus forwards a string whole): the
    server receives the statement exactly as written, and it runs in A's context."""
    if not getattr(connections[RUNTIME], "context_apart", False):
        pytest.skip("plain PostgreSQL: the context is prefixed there")
    statement = "SELECT current_setting('qiro.company_id', true)"
    sent, captured = sent_in_the_context_of(in_a[0], statement)
    assert sent == statement
    assert captured.captured_queries[-1]["sql"] == statement


def test_an_autocommit_statement_gets_a_transaction_of_its_own(in_a):
    """Outside a transaction the context holds for the one statement, and ends with it."""
    with connections[RUNTIME].cursor() as cursor:
        cursor.execute("SELECT current_setting('qiro.company_id', true)")
        assert cursor.fetchone()[0] != ""
    raw = connections[RUNTIME].connection
    assert raw is not None
    left = raw.execute("SELECT current_setting('qiro.company_id', true)").fetchone()
    assert left[0] in ("", None)


def test_a_statement_that_writes_set_local_itself_is_shown_whole(in_a):
    """Only the backend's own prefix is left out, never text the code wrote."""
    statement = "SET LOCAL statement_timeout = '5s'"
    with (
        CaptureQueriesContext(connections[RUNTIME]) as captured,
        transaction.atomic(using=RUNTIME),
    ):
        User.objects.exists()
        with connections[RUNTIME].cursor() as cursor:
            cursor.execute(statement)
    assert [q["sql"] for q in captured.captured_queries if "statement_timeout" in q["sql"]] == [
        statement
    ]


# --- server-side cursors -----------------------------------------------------------


def test_iterator_reads_in_chunks_with_an_ordinary_cursor(in_a):
    a, b = in_a
    assert connections[RUNTIME].settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
    seen = {user.email for user in User.objects.iterator(chunk_size=1)}
    assert {a.owner.email, a.member.email} <= seen
    assert not seen & {b.owner.email, b.member.email}


@pytest.mark.parametrize("in_transaction", [False, True])
def test_server_side_cursors_are_refused_with_the_reason(in_a, monkeypatch, in_transaction):
    """With DISABLE_SERVER_SIDE_CURSORS turned off, iterator() asks for a named cursor."""
    monkeypatch.setitem(connections[RUNTIME].settings_dict, "DISABLE_SERVER_SIDE_CURSORS", False)
    with pytest.raises(ImproperlyConfigured, match="cannot use server-side cursors"):
        maybe_in_a_transaction(in_transaction, lambda: list(User.objects.iterator()))
    with pytest.raises(ImproperlyConfigured, match="DISABLE_SERVER_SIDE_CURSORS = True"):
        connections[RUNTIME].chunked_cursor()
    # The connection is still usable.
    monkeypatch.undo()
    assert emails_of_company()


# --- statements that cannot run in a transaction block ---------------------------------


NOT_IN_A_TRANSACTION = [
    "VACUUM sysauth_user",
    "VACUUM (ANALYZE) sysauth_user",
    "CREATE INDEX CONCURRENTLY qiro_probe_email ON sysauth_user (email)",
    "REINDEX TABLE CONCURRENTLY sysauth_user",
    "DROP INDEX CONCURRENTLY IF EXISTS qiro_probe_email",
]


@pytest.mark.parametrize("statement", NOT_IN_A_TRANSACTION)
@pytest.mark.parametrize("in_transaction", [False, True])
def test_statements_outside_a_transaction_block_point_to_the_owner_alias(
    in_a, statement, in_transaction
):
    if statement.startswith("REINDEX") and getattr(connections[RUNTIME], "context_apart", False):
        pytest.skip(
            "Citus checks REINDEX's table ownership before the transaction block, so the "
            "runtime role gets Citus's own refusal (must be owner) instead"
        )
    with pytest.raises(NotSupportedError) as refused:
        maybe_in_a_transaction(in_transaction, lambda: execute(statement))
    message = str(refused.value)
    assert "cannot run inside a transaction block" in message
    assert "connections['owner']" in message
    assert statement.split()[0] in message
    # Nothing is left broken: the next statement runs, in context.
    assert emails_of_company()


def test_the_owner_alias_runs_them(live_db):
    """The way out the message names works."""
    with connections[tenant_context.OWNER_ALIAS].cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) public.tenants_company")
        cursor.execute("REINDEX TABLE CONCURRENTLY public.tenants_company")


def test_other_errors_pass_through_unchanged(in_a):
    from django.db import ProgrammingError

    with pytest.raises(ProgrammingError), connections[RUNTIME].cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
