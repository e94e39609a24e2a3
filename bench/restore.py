"""Backups, test restores and listed-schema rollbacks at N company schemas, ways side by side.

Uses ``bench/deploy.py``'s database (``<db>_bench_deploy``: N company schemas,
100 rows each in a benchmark-only table; build it first with ``bench/deploy.py
--schemas N --only noop``). In one run, on one backup:

* the backup: ``manage.py backup``'s directory archive (``pg_dump -Fd -j``)
  beside a custom-format ``pg_dump -Fc`` of the same database;
* the test restore the earlier way (one ``pg_restore --jobs`` into a scratch
  database set to ``synchronous_commit = off``), with ``--verbose`` timed per
  TOC-entry kind; with ``--ram-tablespace DIR`` (a scratch database in a
  tablespace on that folder, a RAM disk), the entries split by schema over
  parallel ``pg_restore`` processes, entry by entry, as it was next; then
  ``run_test_restore`` (the schemas' SQL in batches of entries), in the RAM
  tablespace and on disk; each: restore, verification, row comparison, drop
  (after the result, for ``run_test_restore``);
* the rollback of ``--rollback-schemas`` companies (``restore_schemas``, in
  batches) beside the earlier ways (split by schema, entry by entry; and one
  ``pg_restore --use-list --jobs`` on the live database),
  each proven to give the backup's rows and checksums back.

    .venv/bin/python -m qiro.embedded exec -- .venv/bin/python bench/restore.py \\
        --schemas 1000 --ram-tablespace /dev/shm/qiro-bench-scratch
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
os.environ["DJANGO_SETTINGS_MODULE"] = "settings_deploy"
import verify  # noqa: E402  (bench/verify.py: configure)

TABLESPACE = "qiro_bench_scratch"
ITEM = re.compile(r"pg_restore: (launching|finished) item (\d+) ((?:[A-Z]+ )+)")
SERIAL = re.compile(r"pg_restore: processing item (\d+) ((?:[A-Z]+ )+)")


def loads() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def timed(label: str, results: dict[str, Any], fn: Callable[[], Any]) -> Any:
    before = loads()
    started = time.perf_counter()
    value = fn()
    results[label] = round(time.perf_counter() - started, 2)
    print(f"{label:<70} {results[label]:>8.2f} s  ({before} -> {loads()})", flush=True)
    return value


def verbose_restore(tool: Any, path: Path, dbname: str, jobs: int) -> dict[str, Any]:
    """One ``pg_restore --jobs --verbose``; the seconds its items took, summed per kind."""
    from qiro.db import pg

    env = pg.client_env(dbname)
    process = subprocess.Popen(  # noqa: S603 - the server's own pg_restore
        [str(tool.path), "--verbose", "--exit-on-error", f"--jobs={jobs}",
         f"--dbname={dbname}", str(path)],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stderr is not None
    launched: dict[str, float] = {}
    spent: dict[str, float] = collections.defaultdict(float)
    counted: collections.Counter[str] = collections.Counter()
    started = last = time.monotonic()
    parallel_from = None
    for line in process.stderr:
        now = time.monotonic()
        item = ITEM.match(line)
        serial = SERIAL.match(line)
        if item and item[1] == "launching":
            launched[item[2]] = now
        elif item:
            kind = item[3].strip()
            spent[kind] += now - launched.pop(item[2], now)
            counted[kind] += 1
        elif serial:  # before the parallel phase: one at a time, timed to the next line
            kind = "pre-data " + serial[2].strip()
            spent[kind] += now - last
            counted[kind] += 1
        elif "entering main parallel loop" in line:
            parallel_from = now - started
        last = now
    if process.wait() != 0:
        raise RuntimeError("pg_restore failed")
    kinds = sorted(spent, key=lambda k: -spent[k])
    return {
        "serial pre-data phase (s)": round(parallel_from or 0.0, 1),
        "per kind: entries, item-seconds": {k: [counted[k], round(spent[k], 1)] for k in kinds},
    }


def earlier_test_restore(
    backup: Any, jobs: int, notes: dict[str, Any], *, split: bool = False, tablespace: str = ""
) -> bool:
    """The test restore as it was: one pg_restore --jobs (``split``: split by schema, entry
    by entry, over ``jobs`` pg_restore processes), verify, compare every table, drop."""
    from psycopg import sql

    from deployments import scratch_restore
    from deployments.services import run_verification
    from qiro import tenant_context
    from qiro.db import pg

    path = Path(backup.file_path)
    scratch = f"{backup.database_name}_{'split' if split else 'earlier'}"[:63]
    with pg.connect("postgres") as conn:
        major, _ = pg.server_version(conn)
    tool = pg.find_tool("pg_restore", major)
    with scratch_restore.scratch_database(scratch, tablespace=tablespace) as dropped:
        for setting in ("synchronous_commit = off", "maintenance_work_mem = '256MB'"):
            scratch_restore._maintenance(
                sql.SQL("ALTER DATABASE {} SET {}").format(
                    sql.Identifier(scratch), sql.SQL(setting)
                )
            )

        def verify_as_platform(**kwargs: Any) -> Any:
            with tenant_context.platform_context():
                return run_verification(**kwargs)

        parts: dict[str, Any] = {}
        if split:
            listing = pg.run_tool(tool, ["--list", str(path)]).stdout
            notes["restore parts (s)"] = timed(
                "  split by schema, entry by entry", parts,
                lambda: scratch_restore.load(tool, path, scratch, listing=listing, jobs=jobs,
                                             one_by_one=True),
            )  # fmt: skip
        else:
            notes["profile"] = timed(
                "  pg_restore --jobs (verbose)", parts,
                lambda: verbose_restore(tool, path, scratch, jobs),
            )  # fmt: skip
        run = timed("  verification", parts,
                    lambda: verify_as_platform(dbname=scratch, observations=False))  # fmt: skip

        def compare() -> bool:
            with pg.connect(scratch) as conn:
                found = pg.table_fingerprints(conn, schemas=backup.schemas)
            return {k: v[0] for k, v in found.items()} == backup.row_counts

        equal = timed("  row counts compared", parts, compare)
    parts["drop"] = round(dropped["drop"], 2)
    notes["parts (s)"] = parts
    return run.failed == 0 and equal


def earlier_restore_schemas(backup: Any, schemas: list[str], jobs: int) -> None:
    """The rollback as it was: drop and re-create, one pg_restore --use-list --jobs, grants."""
    from psycopg import sql

    from deployments import scratch_restore
    from deployments.backups import reapply_grants
    from qiro.db import pg

    path = Path(backup.file_path)
    with pg.connect() as conn:
        major, _ = pg.server_version(conn)
        database = str(conn.info.dbname)
    tool = pg.find_tool("pg_restore", major)
    listing = pg.run_tool(tool, ["--list", str(path)]).stdout
    _, chosen, _ = scratch_restore.split_listing(listing, set(schemas))
    with pg.connect() as conn, conn.transaction():
        for schema in schemas:
            name = sql.Identifier(schema)
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(name))
            conn.execute(sql.SQL("CREATE SCHEMA {0}").format(name))
    with tempfile.TemporaryDirectory() as tmp:
        entries = Path(tmp) / "entries.list"
        entries.write_text("\n".join(chosen) + "\n")
        pg.run_tool(tool, ["--exit-on-error", f"--jobs={jobs}", f"--use-list={entries}",
                           f"--dbname={database}", str(path)])  # fmt: skip
    reapply_grants(schemas)


def ram_tablespace(folder: str) -> None:
    """A tablespace on ``folder`` (created, owned by the server's system user)."""
    from psycopg import sql

    from qiro.db import pg

    with pg.connect("postgres") as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]  # type: ignore[index]
        exists = conn.execute(
            "SELECT 1 FROM pg_tablespace WHERE spcname = %s", [TABLESPACE]
        ).fetchone()
        if exists:
            return
        owner = os.stat(data_dir)
        Path(folder).mkdir(parents=True, exist_ok=True)
        os.chown(folder, owner.st_uid, owner.st_gid)
        conn.execute(
            sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(
                sql.Identifier(TABLESPACE), sql.Literal(folder)
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemas", type=int, default=1000)
    parser.add_argument("--ram-tablespace", default="", help="a folder on a RAM disk")
    parser.add_argument("--rollback-schemas", type=int, default=200)
    parser.add_argument(
        "--skip-earlier",
        action="store_true",
        help="leave out the oldest way (one pg_restore --jobs)",
    )
    parser.add_argument("--out", default="restore.json", help="file name under bench/results/")
    args = parser.parse_args()

    from qiro import embedded

    base = os.environ.get("QIRO_BENCH_DATABASE") or f"{embedded.DATABASE_NAME}_bench_deploy"
    verify.configure(base)
    from django.conf import settings
    from psycopg import sql

    from deployments import backups, restore_scope, scratch_restore
    from deployments.restore_scope import restore_schemas
    from qiro import tenant_context
    from qiro.db import pg

    with pg.connect() as conn:
        names = pg.company_schemas(conn)
        major, server = pg.server_version(conn)
    if len(names) != args.schemas:
        sys.exit(f"{base} holds {len(names)} company schemas, not {args.schemas}")
    jobs = scratch_restore.restore_jobs()
    folder = Path(tempfile.mkdtemp(prefix="qiro-bench-restore-"))
    settings.QIRO_BACKUP_DIR = folder
    results: dict[str, Any] = {}
    extra: dict[str, Any] = {"company_schemas": len(names), "jobs": jobs}
    out = verify.RESULTS / args.out

    def save() -> None:
        document: dict[str, Any] = {
            "machine": {"cpus": os.cpu_count(), "postgresql": server},
            "seconds": results,
        }
        document.update(extra)
        document["command"] = " ".join(["bench/restore.py", *sys.argv[1:]])
        out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")

    try:
        with tenant_context.platform_context():
            backup = timed("backup: directory archive, pg_dump -Fd -j (manage.py backup)",
                           results, backups.create_backup)  # fmt: skip
        extra["backup size (bytes), entries"] = [backup.size_bytes, backup.entry_count]
        custom = folder / "custom.dump"
        timed("backup: custom format, pg_dump -Fc (same database)", results,
              lambda: pg.run_tool(pg.find_tool("pg_dump", major),
                                  ["--format=custom", f"--file={custom}"]))  # fmt: skip
        extra["custom format size (bytes)"] = custom.stat().st_size
        custom.unlink()
        save()
        if not args.skip_earlier:
            notes: dict[str, Any] = {}
            ok = timed("test restore, earlier: one pg_restore --jobs, on disk", results,
                       lambda: earlier_test_restore(backup, jobs, notes))  # fmt: skip
            extra["test restore, earlier"] = {"ok": ok, **notes}
            save()
        variants = [("on disk", "")]
        if args.ram_tablespace:
            ram_tablespace(args.ram_tablespace)
            variants.insert(0, ("scratch database in a RAM tablespace", TABLESPACE))
            notes = {}
            label = "test restore, earlier: split by schema, entry by entry, RAM tablespace"
            ok = timed(label, results, lambda: earlier_test_restore(
                backup, jobs, notes, split=True, tablespace=TABLESPACE))  # fmt: skip
            extra[label] = {"ok": ok, **notes}
            save()
        for label, space in variants:
            settings.QIRO_SCRATCH_TABLESPACE = space
            with tenant_context.platform_context():
                checked = timed(
                    f"test restore: in batches (run_test_restore), {label}",
                    results,
                    lambda: scratch_restore.run_test_restore(backup=backup),
                )
            timed(f"  its scratch database dropped afterwards, {label}", results,
                  scratch_restore.wait_for_drops)  # fmt: skip
            extra[f"test restore: in batches, {label}"] = {
                "ok": checked.test_restore_ok, "report": checked.test_restore_report,
            }  # fmt: skip
            save()
        settings.QIRO_SCRATCH_TABLESPACE = ""

        chosen = names[: args.rollback_schemas]
        with pg.connect() as conn:
            before = pg.table_fingerprints(conn, schemas=chosen, checksums=True)

        def entry_by_entry() -> None:
            restore_scope.load = functools.partial(scratch_restore.load, one_by_one=True)
            try:
                restore_schemas(backup=backup, schemas=chosen)
            finally:
                restore_scope.load = scratch_restore.load

        ways: list[tuple[str, Callable[[], Any]]] = [
            ("earlier: split by schema, entry by entry", entry_by_entry),
            ("in batches (restore_schemas)",
             lambda: restore_schemas(backup=backup, schemas=chosen)),
        ]  # fmt: skip
        if not args.skip_earlier:
            ways.insert(0, ("earlier: one pg_restore --use-list --jobs",
                            lambda: earlier_restore_schemas(backup, chosen, jobs)))  # fmt: skip
        for label, way in ways:
            with pg.connect() as conn:  # changed after the backup, so the rollback has work
                for name in chosen:
                    conn.execute(
                        sql.SQL("UPDATE {} SET title = 'changed'").format(
                            sql.Identifier(name, "bench_deploy_note")
                        )
                    )
            timed(f"rollback of {len(chosen)} schemas, {label}", results, way)
            with pg.connect() as conn:
                after = pg.table_fingerprints(conn, schemas=chosen, checksums=True)
            extra[f"rollback, {label}: rows and checksums as in the backup"] = after == before
            save()
        print(f"written {out.relative_to(verify.ROOT)}")
    finally:
        settings.QIRO_SCRATCH_TABLESPACE = ""
        shutil.rmtree(folder, ignore_errors=True)
        if args.ram_tablespace:  # the folder of a RAM disk is gone after a reboot
            with pg.connect("postgres") as conn:
                conn.execute(sql.SQL("DROP TABLESPACE IF EXISTS {}").format(
                    sql.Identifier(TABLESPACE)))  # fmt: skip
            shutil.rmtree(args.ram_tablespace, ignore_errors=True)


if __name__ == "__main__":
    main()
