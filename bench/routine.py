"""The operations routine at a named scale: each job's cost, and browsing beside it.

At the scale's database (``bench/data.py``; built first if missing):

* each job of ``deployments.routine`` once, timed, with its result line:
  figures refresh and snapshot, daily summary, stale-statistics ANALYZE,
  index health (with its REINDEX), and the monthly permission report;
* ``--browsers`` signed-in administrators of the largest company walking the
  company admin's lists (``bench/http_load.py``'s browsing, gunicorn with
  ``--workers``), first alone, then once per job with that job running over
  and over beside it; p50/p99 of every page and how often the job ran.

    .venv/bin/python -m qiro.embedded exec -- .venv/bin/python bench/routine.py large
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import data
import http_load


def jobs() -> dict[str, Callable[..., str]]:
    from deployments.routine import figures, index_health, reports, statistics, summary

    def daily_summary(*, now: Any) -> str:
        found = summary.build_daily_summary(now=now)
        return f"{found.findings} findings"

    return {
        "figures refresh + snapshot (daily)": figures.refresh_and_snapshot_figures,
        "daily summary (builder)": daily_summary,
        "ANALYZE of stale tables (weekly)": statistics.analyze_stale_tables,
        "index health + REINDEX (weekly)": index_health.reindex_bloated_indexes,
        "permission report, 30 days (monthly)": reports.monthly_permission_report,
    }


def run_job(job: Callable[..., str]) -> tuple[float, str]:
    from django.db import connections
    from django.utils import timezone

    from qiro import tenant_context

    began = time.perf_counter()
    with tenant_context.platform_context():  # where the worker runs them
        result = job(now=timezone.now())
    elapsed = (time.perf_counter() - began) * 1000
    connections.close_all()
    return elapsed, result


def browse(port: int, host: str, admins: list[str], rounds: int) -> list[float]:
    crowd = http_load.browsing(port, host, admins, rounds)
    if crowd["failures"]:
        raise SystemExit(f"browsing failed: {crowd['failures']}")
    return [ms for values in crowd["samples"].values() for ms in values]


def browse_beside(
    job: Callable[..., str], port: int, host: str, admins: list[str], rounds: int
) -> tuple[list[float], int]:
    """Browsing while ``job`` runs again and again in a thread; (page times, job runs)."""
    stop = threading.Event()
    runs = [0]

    def loop() -> None:
        while not stop.is_set():
            run_job(job)
            runs[0] += 1

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        pages = browse(port, host, admins, rounds)
    finally:
        stop.set()
        thread.join()
    return pages, runs[0]


def main() -> None:
    args = data.scale_arguments(__doc__, browsers=20, rounds=5, workers=4).parse_args()
    data.ensure_scale(args.scale)

    from qiro import tenant_context
    from sysauth.models import User
    from tenants.models import Company

    with tenant_context.owner_context():
        companies = Company.objects.exclude(schema_name="public").count()
    cost: dict[str, dict[str, float]] = {}
    results: dict[str, str] = {}
    for label, job in jobs().items():
        elapsed, result = run_job(job)
        cost[label] = _common.summary([elapsed])
        results[label] = result
        print(f"{label}: {elapsed / 1000:.2f} s - {result}", flush=True)

    company, host = http_load.prepare()
    with tenant_context.company_context(company):
        admins = list(
            User.objects.filter(is_active=True, is_staff=True, email__startswith="user")
            .order_by("pk")
            .values_list("email", flat=True)[: args.browsers]
        )
    port = http_load.free_port()
    process = http_load.start_gunicorn(port, args.workers)
    pages: dict[str, dict[str, float]] = {}
    beside_runs: dict[str, int] = {}
    try:
        pages["browsing alone"] = _common.summary(browse(port, host, admins, args.rounds))
        print("  browsing alone measured", flush=True)
        for label, job in jobs().items():
            times, runs = browse_beside(job, port, host, admins, args.rounds)
            pages[f"browsing beside: {label}"] = _common.summary(times)
            beside_runs[label] = runs
            print(f"  browsing beside {label} measured ({runs} runs)", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)
    _common.report(
        f"routine-{args.scale}",
        {**{f"job: {k}": v for k, v in cost.items()}, **pages},
        {
            "scale": args.scale,
            "companies": companies,
            "job_results": results,
            "job_runs_beside_browsing": beside_runs,
            "browsers": len(admins),
            "rounds": args.rounds,
            "gunicorn_workers": args.workers,
            "command": " ".join(["bench/routine.py", *sys.argv[1:]]),
        },
    )


if __name__ == "__main__":
    main()
