"""Shared set-up for the benchmark scripts: Django, a ready database, timing, output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# QIRO_BENCH_RESULTS sends the JSON elsewhere (the smoke test keeps the committed figures).
RESULTS = Path(os.environ.get("QIRO_BENCH_RESULTS", ROOT / "bench" / "results"))


def bench_database_url(name: str) -> str:
    """The URL of database ``name`` on the configured server (embedded when unset)."""
    from urllib.parse import urlsplit, urlunsplit

    url = os.environ.get("DATABASE_URL", "")
    if not url:
        sys.path.insert(0, str(ROOT))
        from qiro import embedded

        url = embedded.database_url()
        os.environ["QIRO_BENCH_SERVER"] = "embedded"
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def create_database(url: str, *, drop: bool) -> bool:
    """Create the database of ``url`` (dropped first if ``drop``); True if it was made."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if drop:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def use_database(name: str) -> None:
    """Point this process (and the processes it starts) at database ``name``.

    The runtime roles follow the database's name (``<name>_app``), so a bench
    database never shares roles with the development database.
    """
    os.environ["DATABASE_URL"] = bench_database_url(name)


def setup_django(*, bootstrap: bool = True) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qiro.settings")
    import django

    django.setup()
    if bootstrap:
        from django.core.management import call_command

        call_command("bootstrap", no_superuser=True, verbosity=0)


def verified_application(
    i: int, *, label: str, company_name: str, brn: str, subdomain: str, password_hash: str
) -> Any:
    """Sign-up ``i`` submitted through the service and marked e-mail verified, as approval wants.

    The verification link is skipped: the row is set verified by the owner, with
    the first administrator's password hash.
    """
    from django.db import connections

    from registration import services

    data = services.SignupData(
        company_name=company_name, business_registration_number=brn,
        representative_name="대표", business_type="서비스업", address="서울",
        contact_email=f"{label}{i}@bench.example.kr", phone="010-1234-5678",
        subdomain=subdomain, admin_full_name="관리자",
        admin_email=f"admin{i}@bench.example.kr", language="ko",
    )  # fmt: skip
    application = services.submit_application(data=data, password=password_hash, verify_url=str)
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "UPDATE registration_application SET status = 'email_verified', "
            "email_verified_at = now(), admin_password_hash = %s WHERE id = %s",
            [password_hash, application.pk],
        )
    return application


def timed_step(label: str, results: dict[str, float], fn: Callable[[], Any], *, width: int) -> Any:
    """Run one step once: its wall time in seconds kept in ``results[label]`` and printed
    beside the label (a column ``width`` wide); returns what the step returned."""
    started = time.perf_counter()
    value = fn()
    results[label] = round(time.perf_counter() - started, 3)
    print(f"{label:<{width}} {results[label]:>9.3f} s", flush=True)
    return value


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    """Wall time of each call, in milliseconds."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "runs": len(ordered),
        "p50_ms": round(statistics.median(ordered), 4),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 4),
        "max_ms": round(ordered[-1], 4),
    }


def machine() -> dict[str, Any]:
    from django.db import connections

    with connections["owner"].cursor() as cursor:
        cursor.execute("SHOW server_version")
        row = cursor.fetchone()
    server = row[0] if row else "?"
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "postgresql": server,
        "database": (
            "embedded"
            if os.environ.get("QIRO_BENCH_SERVER") == "embedded"
            or not os.environ.get("DATABASE_URL")
            else "DATABASE_URL"
        ),
    }


def report(name: str, rows: dict[str, dict[str, float]], extra: dict[str, Any]) -> None:
    width = max(len(k) for k in rows)
    print(f"{'':{width}}  {'runs':>6}  {'p50 ms':>9}  {'p99 ms':>9}  {'max ms':>9}")
    for label, row in rows.items():
        print(
            f"{label:{width}}  {row['runs']:>6}  {row['p50_ms']:>9.4f}  "
            f"{row['p99_ms']:>9.4f}  {row['max_ms']:>9.4f}"
        )
    for key, value in extra.items():
        print(f"{key}: {value}")
    write_json(name, {"results": rows, **extra})


def write_json(name: str, payload: dict[str, Any]) -> None:
    """``bench/results/<name>.json``: the machine, then ``payload``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    document = {"machine": machine(), **payload}
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"written {out}")
