"""Verification, migrate_schemas, backup and test restore over many company schemas.

Builds a separate database (``<db>_bench_verify``, created and dropped here,
never the development database) with its own runtime roles, migrates the
public schema and one company schema, then clones that schema N-1 times
with a fast SQL path of its own: the migrated schema is dumped once
(``pg_dump -n``, DDL, grants, row security and its migration records), the
dump is renamed per copy and loaded by a few parallel ``psql`` runs; company
rows are inserted in bulk. Then it times:

* a whole verification (every check and observation, results stored) and the
  catalog queries alone;
* ``migrate_schemas`` with nothing to do, standard and multiprocessing executors;
* a whole-database backup and a test restore of it.

    .venv/bin/python -m qiro.embedded exec -- .venv/bin/python bench/verify.py [--schemas 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PREFIX = "qbench_"  # company schemas of this script; never a real company's slug
TEMPLATE = f"{PREFIX}00000"
sys.path.insert(0, str(ROOT))
import _common  # noqa: E402  (bench/_common.py, beside this script)


def configure(database: str) -> None:
    """Point every alias at the bench database before anything connects."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qiro.settings")
    import django
    from django.conf import settings

    django.setup()
    from django.db import connections

    for alias in ("owner", "default", "platform"):
        connections[alias].close()
        settings.DATABASES[alias]["NAME"] = database
        connections[alias].settings_dict["NAME"] = database
    for alias, kind in (("default", "app"), ("platform", "platform")):
        settings.DATABASES[alias]["USER"] = f"{database}_{kind}"
        connections[alias].settings_dict["USER"] = f"{database}_{kind}"


def maintenance(statement: Any) -> None:
    from qiro.db import pg

    with pg.connect("postgres") as conn:
        conn.execute(statement)


def clone_schemas(count: int, jobs: int) -> float:
    """Copies of the template schema, loaded by ``jobs`` psql processes at once."""
    from qiro.db import pg

    with pg.connect() as conn:
        major, _ = pg.server_version(conn)
    pg_dump, psql = pg.find_tool("pg_dump", major), pg.find_tool("psql", major)
    started = time.perf_counter()
    template = pg.run_tool(pg_dump, ["--schema", TEMPLATE]).stdout
    template = "\n".join(
        line
        for line in template.splitlines()
        if not line.startswith(("\\restrict", "\\unrestrict"))
    )
    word = re.compile(rf"\b{TEMPLATE}\b")
    names = [f"{PREFIX}{i:05d}" for i in range(1, count)]
    chunks = [names[i::jobs] for i in range(jobs)]

    def load(chunk: list[str]) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
            for name in chunk:
                handle.write(word.sub(name, template))
                handle.write("\n")
        try:
            pg.run_tool(
                psql,
                ["--no-psqlrc", "--quiet", "--single-transaction", "--set", "ON_ERROR_STOP=1",
                 "--file", handle.name],
            )  # fmt: skip
        finally:
            os.unlink(handle.name)

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(load, [c for c in chunks if c]))
    # Tables created by the load got the owner's default privileges; narrow them
    # to what is declared, as provisioning does.
    from deployments.backups import reapply_grants

    reapply_grants(names)
    from tenants.models import Company, Domain

    companies = Company.objects.using("owner").bulk_create(
        [
            Company(
                name=f"Bench {name}",
                business_registration_number=f"{9000000000 + i}",
                schema_name=name,
            )
            for i, name in enumerate(names, start=1)
        ],
        batch_size=1000,
    )
    Domain.objects.using("owner").bulk_create(
        [
            Domain(domain=f"{c.schema_name}.bench.invalid", tenant=c, is_primary=True)
            for c in companies
        ],
        batch_size=1000,
    )
    # Each copy carries the template company's id in its company-only constraint.
    from qiro.db.secure import restrict_to_company

    with pg.connect() as conn, conn.transaction(), conn.cursor() as cursor:
        for company in companies:
            restrict_to_company(cursor, schema_name=company.schema_name, company_id=company.pk)
    return time.perf_counter() - started


timed = partial(_common.timed_step, width=44)


def schema_arguments(doc: str | None) -> argparse.ArgumentParser:
    """The command line of a bench over cloned company schemas: how many, cloned by how many
    processes (``clone_schemas``)."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--schemas", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=max(2, os.cpu_count() or 2))
    return parser


def main() -> None:
    parser = schema_arguments(__doc__)
    parser.add_argument("--keep", action="store_true", help="do not drop the bench database")
    args = parser.parse_args()

    from qiro import embedded

    base = os.environ.get("QIRO_BENCH_DATABASE") or f"{embedded.DATABASE_NAME}_bench_verify"
    configure(base)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections
    from psycopg import sql

    from deployments import backups, scratch_restore
    from deployments.services import run_verification, runtime_roles
    from deployments.verification import Verifier
    from qiro import stored_text, tenant_context
    from qiro.db import pg
    from tenants.services import create_company_with_migrations

    roles = [settings.DATABASES["default"]["USER"], settings.DATABASES["platform"]["USER"]]

    def drop() -> None:
        for alias in connections:
            connections[alias].close()
        maintenance(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(base)))
        for role in roles:
            maintenance(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))

    drop()
    maintenance(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(base)))
    results: dict[str, float] = {}
    backup_dir = Path(tempfile.mkdtemp(prefix="qiro-bench-backups-"))
    settings.QIRO_BACKUP_DIR = backup_dir
    try:
        timed("bootstrap (public schema)", results,
              lambda: call_command("bootstrap", no_superuser=True, verbosity=0))  # fmt: skip
        timed("one company schema by migrations", results, lambda: create_company_with_migrations(
            name="Bench template", business_registration_number="8999999999",
            schema_name=TEMPLATE, domain=f"{TEMPLATE}.bench.invalid"))  # fmt: skip
        timed(f"clone to {args.schemas} schemas ({args.jobs} psql)", results,
              lambda: clone_schemas(args.schemas, args.jobs))  # fmt: skip
        with pg.connect() as conn:
            conn.execute("ANALYZE")
            schemas = len(pg.company_schemas(conn))

        def catalog_only() -> list:
            with pg.connect() as conn:
                return Verifier(conn, runtime_roles=runtime_roles()).run()

        found = timed("verification: catalog queries only", results, catalog_only)
        failures = [r for r in found if r.outcome == "fail"]
        with tenant_context.platform_context():
            run = timed("verification: whole run, results stored", results,
                        lambda: run_verification(observations=True))  # fmt: skip
        for executor in ("standard", "multiprocessing"):

            def migrate(executor: str = executor) -> None:
                call_command("migrate_schemas", interactive=False, verbosity=0, executor=executor)

            with tenant_context.owner_context():  # the company list is the owner's to read
                timed(f"migrate_schemas no-op, {executor}", results, migrate)
            connections["owner"].close()
        with tenant_context.platform_context():
            backup = timed("backup, whole database", results, backups.create_backup)
            restored = timed("test restore (restore, verify, compare, drop)", results,
                             lambda: scratch_restore.run_test_restore(backup=backup))  # fmt: skip
        extra = {
            "company_schemas": schemas,
            "verification_failures": len(failures),
            "verification_results_stored": run.passed + run.failed + run.skipped,
            "backup_bytes": backup.size_bytes,
            "backup_entries": backup.entry_count,
            "test_restore_ok": restored.test_restore_ok,
            "test_restore_report": stored_text.read_each(restored.test_restore_report),
        }
        for key, value in extra.items():
            print(f"{key}: {value}")
        for failure in failures[:5]:
            print("  FAIL", failure)
        RESULTS.mkdir(parents=True, exist_ok=True)
        with pg.connect() as conn:
            server = pg.server_version(conn)[1]
        out = RESULTS / "verify.json"
        out.write_text(
            json.dumps(
                {
                    "machine": {"cpus": os.cpu_count(), "postgresql": server},
                    "seconds": results,
                    **extra,
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
        print(f"written {out.relative_to(ROOT)}")
    finally:
        shutil.rmtree(backup_dir)  # whole-database backups are directory archives
        if not args.keep:
            drop()


if __name__ == "__main__":
    main()
