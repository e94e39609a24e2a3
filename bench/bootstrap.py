"""Start-up with every company schema up to date: ``bootstrap`` now against before.

Side by side in one run, ``--runs`` times each, alternating, with ``--companies``
company schemas that need nothing:

* new: ``bootstrap --no-superuser`` — the public schema's migrate, one set-based
  check of every company schema (``qiro.migration_state``), no company migrate;
* old: ``bootstrap --no-superuser --all-schemas`` — ``migrate_schemas`` in every schema;
* the two parts of the new run alone: the public migrate and the check (and,
  of the check, the migration graph alone);
* the check alone over ``--check-schemas`` bare schemas holding only a copy of a
  company's ``django_migrations`` (how the one query grows, without building
  that many companies).

Runs in a database of its own (``<db>_bench_bootstrap`` with its own runtime
roles, created here and dropped at the end), never the development database.
The companies come from the warm schema pool (``tenants.schema_pool``) through
``tenants.provisioning``, as approvals make them.

    .venv/bin/python -m qiro.embedded exec -- .venv/bin/python bench/bootstrap.py --companies 50
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

SUFFIX = "_bench_bootstrap"


def bench_database() -> tuple[str, str]:
    """(URL of the bench database, URL of the server's maintenance database)."""
    sys.path.insert(0, str(_common.ROOT))
    from qiro import embedded

    url = os.environ.get("DATABASE_URL") or embedded.database_url()
    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or embedded.DATABASE_NAME) + SUFFIX
    return parts._replace(path="/" + name).geturl(), parts._replace(path="/postgres").geturl()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--check-schemas", type=int, default=1000)
    args = parser.parse_args()

    import psycopg
    from psycopg import sql

    # The bench database goes into DATABASE_URL: say which server it is on.
    server = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded"
    url, maintenance = bench_database()
    name = urlsplit(url).path.lstrip("/")
    roles = [f"{name}_app", f"{name}_platform"]
    os.environ["DATABASE_URL"] = url
    os.environ["QIRO_APP_DB_USER"], os.environ["QIRO_PLATFORM_DB_USER"] = roles

    def drop() -> None:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            for role in roles:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))

    drop()
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        _common.setup_django()  # bootstrap of the empty database: public schema, roles
        rows, extra = run(args.companies, args.runs, args.check_schemas)
        _common.report("bootstrap", rows, {"server": server, **extra})
    finally:
        from django.db import connections

        for alias in connections:
            connections[alias].close()
        drop()


def run(
    n: int, runs: int, check_schemas: int
) -> tuple[dict[str, dict[str, float]], dict[str, object]]:
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connections
    from psycopg import sql

    from qiro import migration_state
    from qiro.tenant_context import owner_context
    from tenants import provisioning, schema_pool
    from tenants.validators import brn_check_digit

    started = time.perf_counter()
    schema_pool.fill_schema_pool(size=n)
    admin = provisioning.FirstAdministrator(
        email="admin@bench.example.kr",
        full_name="관리자",
        password_hash=make_password("bench-password-2026"),
    )
    for i in range(n):
        nine = f"93{i % 10}{(i // 10) % 100 + 1:02d}{i + 1:04d}"
        company = provisioning.provision_company(
            name=f"벤치 회사 {i}",
            business_registration_number=nine + str(brn_check_digit(nine)),
            schema_name=f"bench_boot_{i:04d}",
            domain=f"bench-boot-{i:04d}.localhost",
            first_admin=admin,
        )
        assert company.status == "active"
    made_s = time.perf_counter() - started
    owner = connections["owner"]
    with owner.cursor() as cursor:
        state = migration_state.company_migration_state(cursor)
    assert len(state.up_to_date) == n, state
    assert not state.outdated, state

    def bootstrap(**options: object) -> None:
        call_command("bootstrap", no_superuser=True, verbosity=0, **options)

    def shared_migrate() -> None:
        with owner_context():
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)

    def check() -> None:
        owner.set_schema_to_public()  # type: ignore[attr-defined]
        with owner.cursor() as cursor:
            migration_state.company_migration_state(cursor)

    samples: dict[str, list[float]] = {
        "new: bootstrap": [],
        "old: bootstrap --all-schemas": [],
        "  of new: public schema migrate": [],
        "  of new: check of every company schema": [],
    }
    for _ in range(runs):
        samples["new: bootstrap"] += _common.timed(bootstrap, 1)
        samples["old: bootstrap --all-schemas"] += _common.timed(
            lambda: bootstrap(all_schemas=True), 1
        )
        samples["  of new: public schema migrate"] += _common.timed(shared_migrate, 1)
        samples["  of new: check of every company schema"] += _common.timed(check, 1)
    samples["    of check: migration graph (MigrationLoader)"] = _common.timed(
        migration_state.expected_migrations, runs
    )
    copies = [f"bench_copy_{i:05d}" for i in range(check_schemas)]
    with owner.cursor() as cursor:
        for copy in copies:
            cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(copy)))
            cursor.execute(
                sql.SQL("CREATE TABLE {} AS TABLE {}").format(
                    sql.Identifier(copy, "django_migrations"),
                    sql.Identifier(state.up_to_date[0], "django_migrations"),
                )
            )
        cursor.execute("ANALYZE")

    def check_copies() -> None:
        with owner.cursor() as cursor:
            found = migration_state.migration_state(cursor, copies)
        assert len(found.up_to_date) == check_schemas

    if copies:
        samples[f"check alone, {check_schemas} schemas"] = _common.timed(check_copies, runs)
    rows = {label: _common.summary(values) for label, values in samples.items()}
    new, old = rows["new: bootstrap"]["p50_ms"], rows["old: bootstrap --all-schemas"]["p50_ms"]
    extra: dict[str, object] = {
        "company_schemas_up_to_date": n,
        "runs_each": runs,
        "new_p50_s": round(new / 1000, 3),
        "old_p50_s": round(old / 1000, 3),
        "old_minus_new_per_schema_ms": round((old - new) / n, 1),
        "p50_speedup": round(old / new, 1),
        "companies_made_s": round(made_s, 1),
        "check_schemas": check_schemas,
    }
    return rows, extra


if __name__ == "__main__":
    main()
