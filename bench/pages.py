"""Three pages through Django's test client: time per request and statements per request.

* ``company home``: a company's portal, signed in as its first administrator;
* ``company admin index``: that company's own admin, the same user;
* ``platform admin index``: the platform admin, signed in as platform staff.

On the ``small`` scale's database of the configured server (``bench/data.py``);
interleaved, ``--runs`` requests each, p50/p99 of the wall time, and the
statements each request sent per database alias (Django's own count, without
the runtime backend's context statements: on Citus each transaction adds one).
Each page is also requested through a client without
``qiro.request_transaction`` (every statement in a transaction of its own, as
before it), side by side: on plain PostgreSQL the two are the same code path.

    DATABASE_URL=postgres://postgres@127.0.0.1:5441/postgres .venv/bin/python bench/pages.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import data

STAFF = "bench-pages-staff@qiro.example.kr"


ONE_TRANSACTION = "qiro.request_transaction.ReadRequestTransactionMiddleware"


def clients(suffix: str = "") -> dict[str, tuple[Any, str]]:
    """Signed-in clients of the three pages; their middleware is the settings' of the moment."""
    from django.test import Client

    from qiro import tenant_context
    from sysauth.models import User

    host = data.host_of(1)
    company = Client(HTTP_HOST=host)
    answer = company.post(
        "/accounts/login/", {"username": data.admin_email(1), "password": data.PASSWORD}
    )
    assert answer.status_code == 302, answer.content[:300]
    with tenant_context.owner_context():
        staff, _ = User.objects.get_or_create(
            email=STAFF, defaults={"is_staff": True, "is_superuser": True, "full_name": "벤치"}
        )
        if not staff.check_password(data.PASSWORD):  # a new hash would end other sessions
            staff.set_password(data.PASSWORD)
            staff.save()
    platform = Client(HTTP_HOST="localhost")
    with tenant_context.platform_context():
        assert platform.login(username=STAFF, password=data.PASSWORD)
    assert platform.get("/admin/").status_code == 200  # its middleware loaded now
    return {
        f"company home{suffix}": (company, "/"),
        f"company admin index{suffix}": (company, "/admin/"),
        f"platform admin index{suffix}": (platform, "/admin/"),
    }


def remote_commands(client: Any, url: str, alias: str) -> dict[str, int]:
    """On Citus: the commands the coordinator sends to workers, and runs locally, for one request.

    Counted from ``citus.log_remote_commands`` on this process's connection of
    ``alias`` (set at session level for the one request, then reset).
    """
    from django.db import connections

    connection = connections[alias]
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    messages: list[str] = []

    def keep(diagnostic: Any) -> None:
        messages.append(diagnostic.message_primary or "")

    raw.add_notice_handler(keep)
    raw.execute("SET citus.log_remote_commands = on")
    raw.execute("SET client_min_messages = log")
    try:
        assert client.get(url).status_code == 200
    finally:
        raw.execute("RESET client_min_messages")
        raw.execute("RESET citus.log_remote_commands")
        raw.remove_notice_handler(keep)
    return {
        "to a worker": sum(m.startswith("issuing") for m in messages),
        "on the coordinator": sum(m.startswith("executing the command locally") for m in messages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--name", default="pages", help="the result's name in bench/results")
    args = parser.parse_args()
    data.ensure_scale("small")
    from django.conf import settings
    from django.db import connections
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext

    pages = clients()
    without = [m for m in settings.MIDDLEWARE if m != ONE_TRANSACTION]
    with override_settings(MIDDLEWARE=without):  # each client loads its middleware now
        pages |= clients(" | a transaction per statement")
    statements: dict[str, dict[str, int]] = {}
    for label, (client, url) in pages.items():
        client.get(url)  # warm: connections, caches
        captures = {alias: CaptureQueriesContext(connections[alias]) for alias in connections}
        for capture in captures.values():
            capture.__enter__()
        try:
            assert client.get(url).status_code == 200, label
        finally:
            for capture in captures.values():
                capture.__exit__(None, None, None)
        statements[label] = {a: len(c) for a, c in captures.items() if len(c)}
    from qiro.db.citus import connection_is_citus

    remote: dict[str, dict[str, int]] = {}
    if connection_is_citus("owner"):
        for label, (client, url) in pages.items():
            alias = "platform" if label.startswith("platform") else "default"
            remote[label] = remote_commands(client, url, alias)
    samples: dict[str, list[float]] = {label: [] for label in pages}
    for _ in range(args.runs):
        for label, (client, url) in pages.items():
            start = time.perf_counter()
            assert client.get(url).status_code == 200
            samples[label].append((time.perf_counter() - start) * 1000)
    # On a loaded machine the p50 carries the other processes' share; the lower
    # quartile and the minimum show the requests' own cost more steadily.
    rows = {
        label: _common.summary(values)
        | {
            "p25_ms": round(statistics.quantiles(values, n=4)[0], 4),
            "min_ms": round(min(values), 4),
        }
        for label, values in samples.items()
    }
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ("
            "'citus.enable_local_execution', 'citus.max_cached_conns_per_worker', "
            "'citus.enable_binary_protocol') ORDER BY 1"
        )
        server_settings = dict(cursor.fetchall())
    for label, row in rows.items():
        print(f"{label}: p25 {row['p25_ms']:.1f} ms, min {row['min_ms']:.1f} ms")
    _common.report(
        args.name,
        rows,
        {
            "statements_per_request": statements,
            "citus_commands_per_request": remote,
            "settings": server_settings,
            "load": os.getloadavg(),
        },
    )


if __name__ == "__main__":
    main()
