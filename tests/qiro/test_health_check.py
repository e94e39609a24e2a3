"""A kept connection is checked before reuse without a round trip, and a dead one is found.

``CONN_HEALTH_CHECKS`` is on; ``QuietHealthCheckMixin.is_usable`` asks the
socket instead of sending ``SELECT 1``. Tried on the owner's connection, with
the server ending its session from another one.
"""

from __future__ import annotations

import time

from django.db import connections

from qiro.db import pg

MARKER = "SELECT 'qiro health marker'"


def last_statement_of(pid: int) -> tuple[str, str] | None:
    with pg.connect() as other:
        row = other.execute(
            "SELECT state, query FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()
    return (row[0], row[1]) if row else None


def test_a_healthy_connection_is_usable_and_nothing_is_sent(live_db):
    owner = connections["owner"]
    with owner.cursor() as cursor:
        cursor.execute(MARKER)
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    assert owner.is_usable()
    assert owner.is_usable()
    # The server still shows the last statement the connection sent: no SELECT 1.
    assert last_statement_of(pid) == ("idle", "SELECT pg_backend_pid()")


def test_a_connection_the_server_ended_is_not_usable(live_db):
    owner = connections["owner"]
    try:
        with owner.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with pg.connect() as other:
            # The pid as an integer: Citus adds a bigint overload (its global pids).
            other.execute("SELECT pg_terminate_backend(%s::integer)", [pid])
        # The ended backend sends its FATAL message, leaves pg_stat_activity and then
        # closes its socket: the end of the stream may reach us a moment after both.
        # The check must see it once it has (and never send anything to find out).
        deadline = time.monotonic() + 10
        while owner.is_usable() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert last_statement_of(pid) is None
        assert not owner.is_usable()
    finally:
        owner.close()
    with owner.cursor() as cursor:  # and Django opens a new one
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
