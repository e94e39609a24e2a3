"""A company moved to another Citus worker while its site is in use.

On a Citus coordinator (``DATABASE_URL``): a company with ``--users`` users
(made once), then, side by side, a client thread that requests the company's
login page and reads and writes the company's rows as the runtime role in its
context (one request, one read, one write per round), and the move of its
schema to the other worker (``deployments.citus_move.move_company``, as the
platform admin's action runs it). Reported: the rows before and after, the
requests, reads and writes that failed during the move and their errors, the
slowest of each, and the move's duration.

    DATABASE_URL=$(../shared/citus/citus.sh url qiro_bench_move) \\
        .venv/bin/python bench/citus_move.py --users 2000
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from typing import Any

from _common import report, setup_django, summary

SCHEMA = "bench_move"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=2000)
    args = parser.parse_args()
    setup_django()

    from django.db import connections, transaction
    from django.test import Client

    from deployments.citus_move import move_company
    from qiro import tenant_context
    from qiro.db.citus import is_citus, schema_placements, worker_nodes
    from sysauth.models import User
    from tenants.models import Company
    from tenants.services import create_company_with_migrations

    with connections["owner"].cursor() as cursor:
        if not is_citus(cursor):
            raise SystemExit("not a Citus coordinator: nothing to move")
    with tenant_context.owner_context():
        company = Company.objects.filter(schema_name=SCHEMA).first()
    if company is None:
        company = create_company_with_migrations(
            name="Bench move", business_registration_number="1010120506",
            schema_name=SCHEMA, domain="bench-move.localhost",
        )  # fmt: skip
    with tenant_context.company_context(company):
        have = User.objects.count()
        User.objects.bulk_create(
            User(
                email=f"user{n}@bench-move.example.kr",
                full_name=f"사용자 {n}",
                company_id=company.pk,
            )
            for n in range(have, args.users)
        )

    stop = threading.Event()
    outcomes: dict[str, list[float]] = {"request": [], "read": [], "write": []}
    failures: Counter[str] = Counter()

    def client() -> None:
        web = Client()
        while not stop.is_set():
            for kind in outcomes:
                start = time.perf_counter()
                try:
                    if kind == "request":
                        status = web.get("/accounts/login/", HTTP_HOST="bench-move.localhost")
                        if status.status_code != 200:
                            raise RuntimeError(f"HTTP {status.status_code}")
                    else:
                        with tenant_context.company_context(company):
                            if kind == "read":
                                User.objects.filter(is_active=True).count()
                            else:
                                with transaction.atomic(using="default"):
                                    User.objects.filter(email="user0@bench-move.example.kr").update(
                                        full_name=f"사용자 {time.time():.0f}"
                                    )
                except Exception as error:  # counted, never fatal: the figure is the point
                    failures[f"{kind}: {type(error).__name__}: {str(error)[:120]}"] += 1
                outcomes[kind].append((time.perf_counter() - start) * 1000)
        for alias in connections:
            connections[alias].close()

    with connections["owner"].cursor() as cursor:
        source = schema_placements(cursor, [SCHEMA])[SCHEMA][0]
        target = next(n for n in worker_nodes(cursor) if n != source)
    worker = threading.Thread(target=client)
    worker.start()
    time.sleep(2)  # the client's rounds before the move
    started = time.perf_counter()
    result: dict[str, Any] = move_company(schema_name=SCHEMA, node=target)
    moved_s = time.perf_counter() - started
    time.sleep(2)
    stop.set()
    worker.join()

    rows = {kind: summary(samples) for kind, samples in outcomes.items() if samples}
    extra = {
        "move": result,
        "move_s": round(moved_s, 2),
        "failed": dict(failures),
        "failed_total": sum(failures.values()),
        "users": args.users,
    }
    report("citus/move", rows, extra)


if __name__ == "__main__":
    main()
