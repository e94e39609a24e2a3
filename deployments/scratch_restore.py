"""Restores of an archive as fast as the server allows: test restores and listed schemas.

A whole-database archive of many small company schemas restores at the speed
of its catalog work (about 130 entries a company: tables, identity
sequences, indexes, constraints, policies, grants), not of its data.
Measured (``bench/restore.py``), one ``pg_restore --jobs`` spends a third of
its time in its pre-data section, which it runs in one process whatever
``--jobs`` says, and in its parallel phase it wraps every table's COPY in a
``TRUNCATE`` (a new file per table, useful only with ``wal_level=minimal``).
So here the entries are split by schema instead (``load``):

1. the entries of no company schema (``public``, the schemas themselves, their
   grants) are restored first, by one ``pg_restore --jobs``, but for the
   default privileges, restored last (they would apply to the tables made after);
2. the company schemas' entries are dealt out into one list per job, and the
   jobs run at once (``deployments.restore_batches``): each sends its
   schemas' archived SQL in batches of a few hundred entries a query, and
   loads the rows of the tables that hold any by ``pg_restore``. A company
   schema depends on ``public`` only, never on another company's schema, so
   the lists are independent. ``one_by_one`` restores them by one
   ``pg_restore`` per list instead, entry by entry, as before.

The sessions run with ``synchronous_commit = off`` (the caller's last commit,
made synchronously, makes it all durable). A scratch database may live in
``QIRO_SCRATCH_TABLESPACE``: a tablespace on fast storage that need not
survive a crash (a RAM disk, say), since a scratch database is dropped when
the check ends; on a disk, dropping the tens of thousands of files of a
thousand schemas is itself slow, so a test restore drops it after its result
is recorded, in the background.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop
from psycopg import sql

from deployments import restore_batches
from deployments.backups import check_integrity, refuse_on_citus, scratch_dir
from deployments.models import Backup, Operation
from deployments.restore_listing import deal_out, split_listing
from deployments.services import log, run_verification, step
from qiro import stored_text
from qiro.db import pg
from qiro.stored_text import said

# Settings for the sessions of a restore: its per-entry commits need not wait for
# the disk, and its index builds may take more memory than a live session's.
RESTORE_OPTIONS = "-c synchronous_commit=off -c maintenance_work_mem=256MB"


def _restore_env(dbname: str) -> dict[str, str]:
    env = pg.client_env(dbname)
    env["PGOPTIONS"] = RESTORE_OPTIONS
    return env


def _run_lists(
    tool: pg.Tool, path: Path, dbname: str, lists: list[list[str]], folder: Path, *, jobs: int
) -> None:
    """One ``pg_restore --use-list`` per list, all at once; ``--jobs`` when there is one list.

    The first failure stops the others and is raised with its message.
    """
    running: list[tuple[subprocess.Popen[str], Path]] = []
    try:
        for number, chosen in enumerate(lists):
            listed = folder / f"entries-{number}.list"
            listed.write_text("\n".join(chosen) + "\n")
            args = [str(tool.path), "--exit-on-error", f"--use-list={listed}", f"--dbname={dbname}"]
            if len(lists) == 1 and jobs > 1:
                args.append(f"--jobs={jobs}")
            errors = folder / f"entries-{number}.err"
            with errors.open("w") as err:
                process = subprocess.Popen(  # noqa: S603 - fixed program, arguments built here
                    [*args, str(path)],
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    env=_restore_env(dbname),
                    text=True,
                )
            running.append((process, errors))
        for process, errors in running:
            if process.wait() != 0:
                message = errors.read_text().strip()[-2000:]
                raise RuntimeError(f"{tool.path.name} failed ({process.returncode}): {message}")
    finally:
        for process, _errors in running:
            if process.poll() is None:
                process.kill()
                process.wait()


def load(
    tool: pg.Tool,
    path: Path,
    dbname: str,
    *,
    listing: str,
    schemas: set[str] | None = None,
    shared: bool = True,
    jobs: int,
    empty_tables: set[str] | None = None,
    one_by_one: bool = False,
) -> dict[str, float]:
    """Restore the archive's entries into ``dbname``: shared ones first, then the schemas'.

    ``schemas`` names the company schemas (None: every namespace but the
    shared ones); ``shared=False`` leaves the shared entries out (the
    rollback of listed schemas). The schemas' entries go in batches
    (``deployments.restore_batches``), leaving out the rows of
    ``empty_tables`` (``schema.table``, counted empty in the dump's
    snapshot); ``one_by_one`` restores them by ``pg_restore`` entry by entry
    instead, as before. Returns the seconds of each part. Its callers refuse
    Citus first (``refuse_on_citus``), before they make or drop anything.
    """
    common, own, last = split_listing(listing, schemas)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="qiro-restore-lists-") as tmp:
        folder = Path(tmp)

        def part(name: str, work: Callable[[], object]) -> None:
            started = time.monotonic()
            work()
            seconds[name] = time.monotonic() - started

        if shared and common:
            part(
                "shared entries",
                lambda: _run_lists(tool, path, dbname, [common], folder, jobs=jobs),
            )
        lists = deal_out(own, jobs)
        if lists and one_by_one:
            part("schema entries", lambda: _run_lists(tool, path, dbname, lists, folder, jobs=jobs))
        elif lists:
            env = _restore_env(dbname)
            work = []
            for number, chosen in enumerate(lists):
                (folder / str(number)).mkdir()
                work.append(functools.partial(
                    restore_batches.restore_job, tool, path, dbname, chosen, folder / str(number),
                    empty_tables=empty_tables or set(), env=env, options=RESTORE_OPTIONS,
                ))  # fmt: skip
            started = time.monotonic()
            parts = restore_batches.run_jobs(work)
            seconds["schema entries"] = time.monotonic() - started
            seconds.update({f"schema entries: {name}": value for name, value in parts.items()})
        if shared and last:
            part("last", lambda: _run_lists(tool, path, dbname, [last], folder, jobs=jobs))
    return seconds


def _maintenance(statement: sql.Composed) -> None:
    with pg.connect("postgres") as conn:
        conn.execute(statement)


# Drops of scratch databases still running in the background (``wait_for_drops``).
_drops: list[threading.Thread] = []


def _drop(name: str, timings: dict[str, float]) -> None:
    started = time.monotonic()
    _maintenance(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    timings["drop"] = time.monotonic() - started


def wait_for_drops() -> None:
    """Return once every scratch database dropped in the background is gone."""
    while _drops:
        _drops.pop().join()


@contextlib.contextmanager
def scratch_database(
    name: str, *, tablespace: str | None = None, background: bool = False
) -> Iterator[dict[str, float]]:
    """An empty database ``name`` (in the scratch tablespace, if one is set), dropped afterwards.

    Yields a dict that receives the seconds the drop took (``drop``), once it
    is done. ``background``: after a block that ended without error, the drop
    runs in a thread of its own (on a disk, dropping the files of a thousand
    schemas takes minutes); the process waits for it before it exits.
    """
    space = settings.QIRO_SCRATCH_TABLESPACE if tablespace is None else tablespace
    ident = sql.Identifier(name)
    _maintenance(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
    create = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(ident)
    if space:
        create = sql.SQL("{} TABLESPACE {}").format(create, sql.Identifier(space))
    _maintenance(create)
    timings: dict[str, float] = {}
    try:
        yield timings
    except BaseException:
        _drop(name, timings)
        raise
    if background:
        dropping = threading.Thread(target=_drop, args=(name, timings), name=f"drop {name}")
        dropping.start()
        _drops.append(dropping)
    else:
        _drop(name, timings)


def restored_rows(dbname: str, schemas: list[str], *, jobs: int) -> dict[str, int]:
    """Rows per table of ``schemas`` in ``dbname``, counted by ``jobs`` connections at once.

    A table whose file holds no page holds no row: only the others are
    counted (``count(*)``), which in a restored database of many small
    companies is a fraction of them.
    """
    with pg.connect(dbname) as conn:
        sizes = conn.execute(
            "SELECT n.nspname || '.' || c.relname, pg_relation_size(c.oid) > 0 FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = ANY(%s) ORDER BY 1",
            [schemas],
        ).fetchall()
    found = {name: 0 for name, stored in sizes if not stored}
    stored = [name for name, has_pages in sizes if has_pages]

    def count(tables: list[str]) -> dict[str, int]:
        with pg.connect(dbname) as conn:
            return {k: v[0] for k, v in pg.table_fingerprints(conn, tables=tables).items()}

    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        for counted in pool.map(count, [stored[n :: max(1, jobs)] for n in range(max(1, jobs))]):
            found.update(counted)
    return found


def restore_jobs() -> int:
    """Parallel ``pg_restore`` processes of a test restore or a rollback (CPU count)."""
    from qiro.db.schema_migrations import default_connections

    return default_connections()


def run_test_restore(*, backup: Backup, operation: Operation | None = None) -> Backup:
    """Restore into a scratch database, verify it, compare rows per table, drop it.

    The whole archive is restored (``load``): every entry, so a test restore
    proves the archive restores. The outcome (and why, with the seconds of
    each part) is recorded on the backup; a mismatch is not raised but
    recorded, a broken file or failed restore is recorded and raised. On
    Citus it is refused (``refuse_on_citus``) once the file is proven intact,
    before anything is made, and nothing is recorded: the archive is not
    known to be bad.
    """
    path = check_integrity(backup)  # a broken file is said as such, on Citus too
    refuse_on_citus()
    scratch = f"{backup.database_name}_restore_{backup.pk}"[:63]
    notes: list[stored_text.Message] = []
    ok = True
    try:
        with pg.connect("postgres") as conn:
            major, _version = pg.server_version(conn)
        pg_restore = pg.find_tool("pg_restore", major)
        with scratch_database(scratch, background=True):
            started = time.monotonic()
            if backup.scope == Backup.Scope.COMPANY:
                _public_structure_into(scratch, major, pg_restore)
            listing = pg.run_tool(pg_restore, ["--list", str(path)]).stdout
            empty = {name for name, rows in backup.row_counts.items() if rows == 0}
            parts = load(pg_restore, path, scratch, listing=listing, jobs=restore_jobs(),
                         empty_tables=empty)  # fmt: skip
            notes.append(
                said(
                    gettext_noop("pg_restore: %(seconds)s s (%(parts)s)"),
                    seconds=_seconds(time.monotonic() - started),
                    parts=[
                        said(
                            gettext_noop("%(part)s %(seconds)s s"),
                            part=said(PARTS[name]) if name in PARTS else name,
                            seconds=_seconds(t),
                        )
                        for name, t in parts.items()
                    ],
                )
            )
            if operation is not None:
                step(operation, gettext_noop("restored into %(database)s"), database=scratch)
            if backup.scope == Backup.Scope.DATABASE:
                started = time.monotonic()
                run = run_verification(dbname=scratch, observations=False, operation=operation)
                notes.append(
                    said(
                        gettext_noop(
                            "verification: failed (%(failed)d failed, %(passed)d passed) "
                            "in %(seconds)s s"
                        )
                        if run.failed
                        else gettext_noop(
                            "verification: passed (%(failed)d failed, %(passed)d passed) "
                            "in %(seconds)s s"
                        ),
                        failed=run.failed,
                        passed=run.passed,
                        seconds=_seconds(time.monotonic() - started),
                    )
                )
                ok = ok and run.failed == 0
            started = time.monotonic()
            restored = restored_rows(scratch, backup.schemas, jobs=restore_jobs())
            source = backup.row_counts
            mismatched = sorted(
                name
                for name in set(source) | set(restored)
                if source.get(name) != restored.get(name)
            )
            if mismatched:
                ok = False
                notes.append(
                    said(gettext_noop("row counts differ: %(tables)s"), tables=mismatched[:20])
                )
            else:
                notes.append(
                    said(
                        gettext_noop("row counts equal in %(count)d tables (%(seconds)s s)"),
                        count=len(source),
                        seconds=_seconds(time.monotonic() - started),
                    )
                )
        notes.append(
            said(gettext_noop("scratch database dropped in the background, once this is recorded"))
        )
    except Exception as error:
        Backup.objects.filter(pk=backup.pk).update(
            verified_at=timezone.now(),
            test_restore_ok=False,
            test_restore_report=stored_text.stored([*notes, str(error)]),
        )
        raise
    Backup.objects.filter(pk=backup.pk).update(
        verified_at=timezone.now(),
        test_restore_ok=ok,
        test_restore_report=stored_text.stored(notes),
    )
    if operation is not None:
        for note in notes:
            log(operation, note["msg"], **note.get("params", {}))
    backup.refresh_from_db()
    return backup


# The parts of a restore (``load``) as a report names them.
PARTS = {
    "shared entries": gettext_noop("shared entries"),
    "schema entries": gettext_noop("schema entries"),
    "last": gettext_noop("entries restored last"),
    "schema entries: pre-data": gettext_noop("schema entries: structure"),
    "schema entries: rows": gettext_noop("schema entries: rows"),
    "schema entries: sequence values": gettext_noop("schema entries: sequence values"),
    "schema entries: post-data": gettext_noop("schema entries: keys, indexes and triggers"),
    "schema entries: entries one by one": gettext_noop("schema entries: one by one"),
}


def _seconds(seconds: float) -> str:
    return f"{seconds:.2f}"


def _public_structure_into(scratch: str, major: int, pg_restore: pg.Tool) -> None:
    """The live public schema's tables (no rows) in the scratch database.

    A company's tables reference public ones (content types, for example),
    so its schema restores only beside them.
    """
    pg_dump = pg.find_tool("pg_dump", major)
    with pg.connect(scratch) as conn:  # the dump of one schema creates it itself
        conn.execute("DROP SCHEMA public CASCADE")
    with scratch_dir("qiro-public-") as tmp:
        structure = Path(tmp) / "public.dump"
        pg.run_tool(
            pg_dump, ["--format=custom", "--schema-only", "--schema=public", f"--file={structure}"]
        )
        pg.run_tool(pg_restore, ["--exit-on-error", f"--dbname={scratch}", str(structure)])
