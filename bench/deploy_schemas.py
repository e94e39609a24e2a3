"""The company schemas of the deploy bench's database: built, measured and prepared.

Built once from a template company holding ``ROWS`` rows of the bench-only
table (``bench/settings_deploy.py``), then cloned. Before a measurement that
applies "the new migration" (``NEW`` of ``APP``), it is removed from every
schema; a trap table makes the deploy fail at a chosen schema; fingerprints
(row counts and checksums) show which companies a failure left unchanged.
Used by ``bench/deploy.py``, which configures Django first.
"""

from __future__ import annotations

from typing import Any

import verify  # bench/verify.py: configure, clone_schemas

APP = "bench_deploy"
NEW = "0002_note_priority"
ROWS = 100  # rows of the company table in every schema
BATCH = 100  # schemas per transaction when the new migration is removed


def build(count: int, jobs: int) -> None:
    """Public schema, the template company (with rows), then its clones."""
    from django.core.management import call_command
    from django.db import connections

    from tenants.services import create_company_with_migrations

    call_command("bootstrap", no_superuser=True, verbosity=0)
    create_company_with_migrations(
        name="Bench template", business_registration_number="8999999999",
        schema_name=verify.TEMPLATE, domain=f"{verify.TEMPLATE}.bench.invalid",
    )  # fmt: skip
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {verify.TEMPLATE}.bench_deploy_note (company_id, title, priority) "
            "SELECT 1, 'note ' || i, i %% 5 FROM generate_series(1, %s) i",
            [ROWS],
        )
    print(f"cloned {count} schemas in {verify.clone_schemas(count, jobs):.1f} s", flush=True)


def schemas() -> list[str]:
    from qiro.db import pg

    with pg.connect() as conn:
        return pg.company_schemas(conn)


def forget_new_migration(names: list[str]) -> None:
    """Every schema as before the new migration: no column, no index, no record."""
    from psycopg import sql

    from qiro.db import pg

    with pg.connect() as conn:
        conn.execute(
            "DELETE FROM public.django_migrations WHERE app = %s AND name = %s", [APP, NEW]
        )
        for start in range(0, len(names), BATCH):
            with conn.transaction():
                for name in names[start : start + BATCH]:
                    conn.execute(
                        sql.SQL("ALTER TABLE {} DROP COLUMN IF EXISTS priority").format(
                            sql.Identifier(name, "bench_deploy_note")
                        )
                    )
                    conn.execute(
                        sql.SQL("DELETE FROM {} WHERE app = %s AND name = %s").format(
                            sql.Identifier(name, "django_migrations")
                        ),
                        [APP, NEW],
                    )


def with_new_migration(names: list[str]) -> list[str]:
    from psycopg import sql

    from qiro.db import pg

    with pg.connect() as conn:
        found = conn.execute(
            sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT {}::text FROM {} WHERE app = {} AND name = {}").format(
                    sql.Literal(n),
                    sql.Identifier(n, "django_migrations"),
                    sql.Literal(APP),
                    sql.Literal(NEW),
                )
                for n in names
            )
        ).fetchall()
    return [row[0] for row in found]


def trap(schema_name: str | None) -> None:
    from qiro.db import pg

    with pg.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS public.bench_deploy_trap")
        if schema_name is not None:
            conn.execute("CREATE TABLE public.bench_deploy_trap (schema_name text)")
            conn.execute("INSERT INTO public.bench_deploy_trap VALUES (%s)", [schema_name])


def fingerprints(names: list[str]) -> dict[str, list[Any]]:
    from qiro.db import pg

    with pg.connect() as conn:
        return pg.table_fingerprints(conn, schemas=names, checksums=True)
