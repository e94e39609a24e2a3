"""A burst of approvals with a worker running: does the warm pool stay warm?

Each approval that takes a pool schema queues a refill when it commits
(``tenants.pool_take.refill_soon``); the worker (``manage.py worker``, a
separate process, polling every ``--worker-interval`` s) fills the pool back
to ``--pool-size``. ``--approvals`` verified applications are approved one
after another through ``registration.actions.approve_application``, with
``--pause`` seconds between them (0: back to back). An approval that finds
the pool empty while a fill runs waits for the schema being copied
(``QIRO_SCHEMA_POOL_WAIT_SECONDS``; 0 turns the wait off). Printed: p50/max
per approval and of its schema step, how many took the fast path, and the
pool's smallest size seen; the JSON has every approval's time.

Runs in its own database (``qiro_bench_pool``, created and dropped here).

    .venv/bin/python -m qiro.embedded exec -- .venv/bin/python bench/pool_burst.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

DATABASE = "qiro_bench_pool"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approvals", type=int, default=50)
    parser.add_argument("--pool-size", type=int, default=3)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--worker-interval", type=float, default=0.1)
    args = parser.parse_args()
    os.environ["DJANGO_EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ["QIRO_SCHEMA_POOL_SIZE"] = str(args.pool_size)
    _common.use_database(DATABASE)
    _common.create_database(os.environ["DATABASE_URL"], drop=True)
    _common.setup_django()

    from django.contrib.auth.hashers import make_password
    from django.core import mail
    from django.db import connections

    from registration import actions
    from sysauth.models import User
    from tenants import schema_pool
    from tenants.provisioning import ProvisioningTimings
    from tenants.validators import brn_check_digit

    def pool_size() -> int:
        with connections["owner"].cursor() as cursor:
            return len(schema_pool.pool_schemas(cursor, current_only=True))

    mail.outbox = []
    password_hash = make_password("bench-password-2026")
    reviewer = User.objects.db_manager("owner").create_user(
        "reviewer@bench.example.kr", None, is_staff=True, is_superuser=True
    )
    applications = []
    for i in range(args.approvals):
        nine = f"8{i % 10}{(i // 10) % 100 + 1:02d}{i + 1:05d}"[:9]
        brn = nine + str(brn_check_digit(nine))
        app = _common.verified_application(
            i, label="burst", company_name=f"버스트 회사 {i}", brn=brn,
            subdomain=f"burst-{i}", password_hash=password_hash,
        )  # fmt: skip
        applications.append(app)
    schema_pool.fill_schema_pool()
    connections.close_all()

    worker = subprocess.Popen(  # noqa: S603 - this project's own worker
        [sys.executable, str(_common.ROOT / "manage.py"), "worker",
         "--interval", str(args.worker_interval), "--worker-id", "bench-pool-burst"],
        env=os.environ.copy(),
    )  # fmt: skip
    times: list[float] = []
    schema_steps: list[float] = []  # of each approval: taking (or waiting for) its schema
    fast = 0
    smallest = pool_size()
    try:
        time.sleep(2)  # the worker is up and polling
        for app in applications:
            timings = ProvisioningTimings()
            begin = time.perf_counter()
            actions.approve_application(
                application_id=app.pk, acting_user=reviewer, timings=timings
            )
            times.append((time.perf_counter() - begin) * 1000)
            schema_steps.append(timings.steps.get("schema", 0.0))
            fast += int(timings.from_pool)
            smallest = min(smallest, pool_size())
            if args.pause:
                time.sleep(args.pause)
        deadline = time.monotonic() + 60
        while pool_size() < args.pool_size and time.monotonic() < deadline:
            time.sleep(0.2)
        refilled = pool_size()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    rows = {
        "approval (decision to active company)": _common.summary(times),
        "  of which: its schema taken from the pool (waits included)": _common.summary(
            schema_steps
        ),
    }
    extra = {
        "approvals": args.approvals,
        "fast_path": fast,
        "pool_size": args.pool_size,
        "pause_s": args.pause,
        "worker_interval_s": args.worker_interval,
        "smallest_pool_seen": smallest,
        "pool_after_burst": refilled,
        "wait_s": float(os.environ.get("QIRO_SCHEMA_POOL_WAIT_SECONDS", "10")),
        "each_approval_ms": [round(t) for t in times],
        "each_schema_step_ms": [round(t) for t in schema_steps],
        "command": " ".join(["bench/pool_burst.py", *sys.argv[1:]]),
    }
    _common.report(
        f"pool_burst_{args.pool_size}_{args.pause:g}_wait{extra['wait_s']:g}", rows, extra
    )
    connections.close_all()
    drop_database(os.environ["DATABASE_URL"])


def drop_database(url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE))
        )


if __name__ == "__main__":
    main()
