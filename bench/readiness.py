"""The cost of /health/ready/'s migration count (``qiro_migration_counts``) over many schemas.

Builds a scratch database (``qiro_bench_readiness``, created and dropped
here) holding N company schemas, each with only a ``django_migrations`` table
that records the code's migrations (one schema misses one), a minimal
``tenants_company`` and the function exactly as migration
``deployments/0003`` installs it; then times the call.

    .venv/bin/python -m qiro.embedded exec -- .venv/bin/python bench/readiness.py [--schemas 1000]
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import _common  # noqa: E402 - beside this script, after the project on the path

DATABASE = "qiro_bench_readiness"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemas", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qiro.settings")
    import django

    django.setup()
    from qiro.db import pg
    from qiro.migration_state import expected_migrations

    function = importlib.import_module("deployments.migrations.0003_readiness_migration_counts")
    apps, names = (list(column) for column in zip(*sorted(expected_migrations()), strict=True))
    with pg.connect("postgres") as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    try:
        with pg.connect(DATABASE) as conn:
            started = time.perf_counter()
            conn.execute("CREATE TABLE public.tenants_company (id bigserial, schema_name text)")
            conn.execute(
                "CREATE TABLE public.django_migrations "
                "(id bigserial, app text, name text, applied timestamptz)"
            )
            conn.execute(
                "INSERT INTO public.django_migrations (app, name, applied) "
                "SELECT a, n, now() FROM unnest(%s::text[], %s::text[]) x(a, n)",
                [apps, names],
            )
            for i in range(args.schemas):
                conn.execute(f"CREATE SCHEMA c{i}")
                conn.execute(
                    f"CREATE TABLE c{i}.django_migrations AS SELECT * FROM public.django_migrations"
                )
            conn.execute(
                "INSERT INTO public.tenants_company (schema_name) "
                "SELECT 'c' || g FROM generate_series(0, %s - 1) g",
                [args.schemas],
            )
            conn.execute("DELETE FROM c7.django_migrations WHERE name = %s", [names[0]])
            conn.execute(function.CREATE_SQL)
            built = time.perf_counter() - started
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                row = conn.execute(
                    "SELECT schemas, outdated FROM public.qiro_migration_counts(%s, %s)",
                    [apps, names],
                ).fetchone()
                times.append((time.perf_counter() - started) * 1000)
        assert row == (args.schemas + 1, 1), row
    finally:
        with pg.connect("postgres") as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    result = {
        "schemas": args.schemas + 1,
        "migrations": len(apps),
        "runs": args.runs,
        "p50_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "built_s": round(built, 1),
    }
    print(
        f"qiro_migration_counts over {result['schemas']} schemas, {result['migrations']} "
        f"migrations: p50 {result['p50_ms']} ms, max {result['max_ms']} ms "
        f"({args.runs} runs; built in {result['built_s']} s)"
    )
    _common.write_json("readiness", result)


if __name__ == "__main__":
    main()
