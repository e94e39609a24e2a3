"""Deploys over many company schemas: QIRO's against django-tenants' ``migrate_schemas``.

Builds (once; reused by later runs) a database ``<db>_bench_deploy`` with N
company schemas cloned by ``bench/verify.py``'s path, each holding 100 rows
of a benchmark-only company table (``deploy_app``, installed by
``bench/settings_deploy.py``). Its second migration — AddField + AddIndex on
that table — is "the new migration": the bench removes it from every schema
(column, index, record) before each measurement that applies it. Side by
side, in one run:

* the no-op deploy (state, verify, health; no backup needed), median of 3;
* the no-op ``migrate_schemas``, standard and multiprocessing executors;
* the new migration applied by ``deploy`` and by ``migrate_schemas`` (both executors);
* a failure injected at schema N/2: the stop, the proof that the companies it
  did not reach are unchanged (rows and checksums), the resume, and the
  whole-database rollback (``--rollback database``);
* ``test-restore``: a whole-database backup (directory archive, parallel jobs)
  and its test restore; ``rollback-scope``: half the companies put back from
  such a backup, the other half proven untouched, beside the estimated cost
  of per-company dumps.

``QIRO_BENCH_DATABASE`` names another database (for example a copy made with
``CREATE DATABASE … TEMPLATE``) and ``QIRO_BENCH_ROLES`` the database whose
runtime roles it uses.

    .venv/bin/python -m qiro.embedded exec -- .venv/bin/python bench/deploy.py --schemas 1000
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
os.environ["DJANGO_SETTINGS_MODULE"] = "settings_deploy"
import _common  # noqa: E402
import verify  # noqa: E402  (bench/verify.py: configure, clone_schemas)
from deploy_schemas import (  # noqa: E402
    build,
    fingerprints,
    forget_new_migration,
    schemas,
    trap,
    with_new_migration,
)

timed = partial(_common.timed_step, width=58)


def main() -> None:
    parser = verify.schema_arguments(__doc__)
    parser.add_argument("--rebuild", action="store_true", help="drop and build the database again")
    parser.add_argument(
        "--only", default="all",
        help="parts, comma-separated (noop, new-migration, failure, test-restore); their "
        "figures are merged into an existing bench/results/deploy.json",
    )  # fmt: skip
    parser.add_argument(
        "--skip-migrate-schemas-migration", action="store_true",
        help="leave out migrate_schemas applying the new migration (the longest part)",
    )  # fmt: skip
    parser.add_argument("--out", default="deploy.json", help="file name under bench/results/")
    args = parser.parse_args()

    from qiro import embedded

    base = os.environ.get("QIRO_BENCH_DATABASE") or f"{embedded.DATABASE_NAME}_bench_deploy"
    verify.configure(base)
    roles = os.environ.get("QIRO_BENCH_ROLES")  # a copy of the database keeps its roles
    if roles:
        from django.conf import settings as configured
        from django.db import connections as aliases

        for alias, kind in (("default", "app"), ("platform", "platform")):
            configured.DATABASES[alias]["USER"] = f"{roles}_{kind}"
            aliases[alias].settings_dict["USER"] = f"{roles}_{kind}"
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections
    from psycopg import sql

    from deployments import deploys
    from deployments.models import Deployment
    from qiro import tenant_context
    from qiro.db import pg

    with pg.connect("postgres") as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [base]).fetchone()
    if args.rebuild and exists:
        for alias in connections:
            connections[alias].close()
        verify.maintenance(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(base))
        )
        exists = None
    if not exists:
        verify.maintenance(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(base)))
        build(args.schemas, args.jobs)
    names = schemas()
    if len(names) != args.schemas:
        sys.exit(f"{base} holds {len(names)} company schemas, not {args.schemas}: use --rebuild")
    backup_dir = Path(tempfile.mkdtemp(prefix="qiro-bench-deploy-"))
    settings.QIRO_BACKUP_DIR = backup_dir
    results: dict[str, float] = {}
    extra: dict[str, Any] = {"company_schemas": len(names)}

    def deploy(**kwargs: Any) -> Deployment:
        with tenant_context.platform_context():
            return deploys.deploy(**kwargs)

    def step_seconds(deployment: Deployment, name: str) -> float:
        from datetime import datetime

        entry = next(s for s in deployment.steps if s["name"] == name)
        started, finished = (datetime.fromisoformat(entry[k]) for k in ("started", "finished"))
        return round((finished - started).total_seconds(), 3)

    def migrate_schemas(executor: str) -> None:
        with tenant_context.owner_context():
            call_command("migrate_schemas", interactive=False, verbosity=0, executor=executor)
        connections["owner"].close()

    def watched(label: str, fn: Callable[[], Any]) -> Callable[[], Any]:
        """``fn`` with the schemas holding the new migration counted every 30 s, so that
        an interrupted run still gives its rate (schemas a second)."""
        import threading

        progress: list[tuple[float, int]] = []
        extra[f"{label}: progress (seconds, schemas done)"] = progress
        stop = threading.Event()

        def count() -> None:
            started = time.perf_counter()
            while not stop.wait(30):
                done = len(with_new_migration(names))
                progress.append((round(time.perf_counter() - started, 1), done))
                print(f"  {label}: {done} schemas after {progress[-1][0]} s", flush=True)
                save()

        def run() -> Any:
            watcher = threading.Thread(target=count, daemon=True)
            watcher.start()
            try:
                return fn()
            finally:
                stop.set()
                watcher.join()

        return run

    def noop_phase() -> None:
        noop = []
        for run in range(3):
            deployment = timed(f"no-op deploy, run {run + 1}", results, deploy)
            assert deployment.status == Deployment.Status.SUCCEEDED, deployment.reason
            assert deployment.backup is None
            noop.append(results[f"no-op deploy, run {run + 1}"])
        results["no-op deploy, median"] = statistics.median(noop)
        extra["no-op deploy backup step"] = deployment.steps[0]["detail"]
        for executor in ("standard", "multiprocessing"):
            timed(f"no-op migrate_schemas, {executor}", results, partial(migrate_schemas, executor))

    def new_migration_phase() -> None:
        forget_new_migration(names)
        deployment = timed(
            "new migration: deploy (backup, migrate, verify, health)", results, deploy
        )
        assert deployment.status == Deployment.Status.SUCCEEDED, deployment.reason
        results["new migration: deploy, backup step"] = step_seconds(deployment, "backup")
        results["new migration: deploy, migrate step"] = step_seconds(deployment, "migrate")
        extra["new migration: migrate detail"] = deployment.steps[1]["detail"]
        if args.skip_migrate_schemas_migration:
            return
        for executor in ("standard", "multiprocessing"):
            forget_new_migration(names)
            label = f"new migration: migrate_schemas, {executor}"
            timed(label, results, watched(label, partial(migrate_schemas, executor)))
            assert len(with_new_migration(names)) == len(names)

    def failure_phase() -> None:
        forget_new_migration(names)
        middle = names[len(names) // 2]
        trap(middle)
        before = fingerprints(names)
        failed = timed(f"failure at schema {len(names) // 2 + 1} ({middle}): deploy stops",
                       results, deploy)  # fmt: skip
        assert failed.status == Deployment.Status.FAILED, failed.reason
        done = set(with_new_migration(names))
        untouched = [n for n in names if n not in done]
        after = fingerprints(untouched)
        extra["failure: schemas done before the stop"] = len(done)
        extra["failure: schemas untouched, rows and checksums unchanged"] = (
            f"{len(untouched)} schemas, {len(after)} tables, unchanged: "
            f"{all(after[t] == before[t] for t in after)}"
        )
        trap(None)
        resumed = timed("failure: deploy again (resumes with the rest)", results, deploy)
        assert resumed.status == Deployment.Status.SUCCEEDED, resumed.reason
        extra["failure: resumed migrate detail"] = resumed.steps[1]["detail"]

        for scope in ("changed", "database"):
            forget_new_migration(names)
            before = fingerprints(names)
            trap(middle)
            rolled = timed(f"failure: deploy --rollback {scope}", results,
                           partial(deploy, rollback=scope))  # fmt: skip
            trap(None)
            assert rolled.status == Deployment.Status.ROLLED_BACK, rolled.reason
            results[f"failure: --rollback {scope}, restore step"] = step_seconds(rolled, "restore")
            extra[f"failure: --rollback {scope}, restore detail"] = rolled.steps[-1]["detail"]
            restored = fingerprints(names)
            extra[f"failure: --rollback {scope}, every company as before (rows, checksums)"] = (
                restored == before
            )
        assert deploy().status == Deployment.Status.SUCCEEDED  # migrated again

    def test_restore_phase() -> None:
        from deployments import backups, scratch_restore
        from qiro import stored_text

        with tenant_context.platform_context():
            backup = timed("backup, whole database (pg_dump -Fd -j)", results,
                           backups.create_backup)  # fmt: skip
            restored = timed(
                "test restore (parallel pg_restore, verify, compare, drop)",
                results,
                lambda: scratch_restore.run_test_restore(backup=backup),
            )
        extra["test restore report"] = stored_text.read_each(restored.test_restore_report)
        extra["test restore ok"] = restored.test_restore_ok
        extra["backup size (bytes), entries"] = [backup.size_bytes, backup.entry_count]

    def rollback_scope_phase() -> None:
        """Half the companies put back from a whole-database archive; the rest untouched.

        Beside it, what per-company dumps would cost: one ``pg_dump -Fd -n`` of a
        schema, timed, times the number of schemas over the parallel jobs.
        """
        from deployments import backups
        from deployments.restore_scope import restore_schemas

        with tenant_context.platform_context():
            backup = timed("rollback scope: backup, whole database (pg_dump -Fd -j)", results,
                           backups.create_backup)  # fmt: skip
        half, rest = names[: len(names) // 2], names[len(names) // 2 :]
        before = fingerprints(names)
        with pg.connect() as conn:
            for name in names:  # changed after the backup: one row in every company
                conn.execute(sql.SQL("UPDATE {} SET title = 'changed' WHERE id = 1").format(
                    sql.Identifier(name, "bench_deploy_note")))  # fmt: skip
        changed = fingerprints(names)
        with tenant_context.platform_context():
            timed(f"rollback scope: {len(half)} schemas restored (TOC list, pg_restore -j)",
                  results, partial(restore_schemas, backup=backup, schemas=half))  # fmt: skip
        after = fingerprints(names)

        def part(found: dict[str, list[Any]], group: list[str]) -> dict[str, list[Any]]:
            return {k: v for k, v in found.items() if k.split(".")[0] in group}

        restored = part(after, half) == part(before, half)
        extra["rollback scope: restored schemas as in the backup"] = restored
        extra["rollback scope: the other schemas keep what was written after the backup"] = (
            part(after, rest) == part(changed, rest) != part(before, rest)
        )
        with pg.connect() as conn:
            major, _ = pg.server_version(conn)
        pg_dump = pg.find_tool("pg_dump", major)
        one: list[float] = []
        with tempfile.TemporaryDirectory() as tmp:
            for i, name in enumerate(names[:5]):
                started = time.perf_counter()
                pg.run_tool(pg_dump, ["--format=directory", f"--schema={name}",
                                      f"--file={tmp}/{i}"])  # fmt: skip
                one.append(time.perf_counter() - started)
        results["per-company dump: one pg_dump -Fd -n, median of 5"] = round(
            statistics.median(one), 3
        )
        results["per-company dumps: that times the schemas over the jobs (estimate)"] = round(
            statistics.median(one) * len(names) / args.jobs, 1
        )

    phases = {
        "noop": noop_phase, "new-migration": new_migration_phase,
        "failure": failure_phase, "test-restore": test_restore_phase,
        "rollback-scope": rollback_scope_phase,
    }  # fmt: skip
    out = verify.RESULTS / args.out
    document: dict[str, Any] = {"seconds": {}}
    if args.only != "all" and out.exists():
        document = json.loads(out.read_text())

    def save() -> None:
        """After every part: what is measured so far survives an interrupted run."""
        with pg.connect() as conn:
            server = pg.server_version(conn)[1]
        document["machine"] = {"cpus": os.cpu_count(), "postgresql": server}
        document["seconds"].update(results)
        document.update(extra)
        out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")

    try:
        trap(None)
        if deploy().status != Deployment.Status.SUCCEEDED:  # whatever an earlier run left
            sys.exit("the first deploy failed: see the latest deployment's reason")
        for name, phase in phases.items():
            if args.only == "all" or name in args.only.split(","):
                phase()
                save()
        deploy()  # leave the database migrated for the next run
        for key, value in extra.items():
            print(f"{key}: {value}")
        print(f"written {out.relative_to(verify.ROOT)}")
    finally:
        trap(None)
        for path in backup_dir.rglob("*"):
            if path.is_file():
                path.unlink()
        for path in sorted(backup_dir.rglob("*"), reverse=True):
            path.rmdir()
        backup_dir.rmdir()


if __name__ == "__main__":
    main()
