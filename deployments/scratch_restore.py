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
2. the company schemas' entries are dealt out into one list per job, and that
   many ``pg_restore`` processes restore theirs at the same time, each in its
   own archive order (pre-data, data, post-data). A company schema depends on
   ``public`` only, never on another company's schema, so the lists are
   independent.

Each entry is committed on its own with ``synchronous_commit = off`` (the
caller's last commit, made synchronously, makes it all durable). A scratch
database may live in ``QIRO_SCRATCH_TABLESPACE``: a tablespace on fast storage
that need not survive a crash (a RAM disk, say), since a scratch database is
dropped when the check ends; on a disk, dropping the tens of thousands of
files of a thousand schemas is itself slow.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop
from psycopg import sql

from deployments.backups import check_integrity, scratch_dir
from deployments.models import Backup, Operation
from deployments.services import log, run_verification, step
from qiro import stored_text
from qiro.db import pg
from qiro.stored_text import said

# Settings for the sessions of a restore: its per-entry commits need not wait for
# the disk, and its index builds may take more memory than a live session's.
RESTORE_OPTIONS = "-c synchronous_commit=off -c maintenance_work_mem=256MB"
# "<dump id>; <catalog oid> <object oid> <KIND, upper-case words> <schema> <name> <owner>"
# Schema names here are lower-case (companies' sub-domains, pool names), so the
# first word that is not all upper-case is the schema ("-" for none).
TOC_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:[A-Z]+ )+(?P<schema>\S+) ")
DEFAULT_ACL = re.compile(r"^\d+; \d+ \d+ DEFAULT ACL ")
# Entries whose namespace is one of these are never a company schema's own.
SHARED_NAMESPACES = {"-", "public", "pg_catalog"}


def schema_of(line: str) -> str | None:
    """The namespace of a ``pg_restore --list`` line, or None for a comment."""
    found = TOC_ENTRY.match(line)
    return found["schema"] if found else None


def split_listing(
    listing: str, schemas: set[str] | None = None
) -> tuple[list[str], list[str], list[str]]:
    """(shared entries, company-schema entries, last entries) of a listing.

    Company entries are those of a namespace in ``schemas`` (every namespace
    outside ``SHARED_NAMESPACES`` when None); the rest, comments aside, are
    shared, but for the default privileges (``ALTER DEFAULT PRIVILEGES``),
    which come last, as in one ``pg_restore``: tables created after them
    would receive them too.
    """
    shared: list[str] = []
    own: list[str] = []
    last: list[str] = []
    for line in listing.splitlines():
        schema = schema_of(line)
        if schema is None:
            continue
        if schema in schemas if schemas is not None else schema not in SHARED_NAMESPACES:
            own.append(line)
        elif DEFAULT_ACL.match(line):
            last.append(line)
        else:
            shared.append(line)
    return shared, own, last


def deal_out(entries: list[str], jobs: int) -> list[list[str]]:
    """The entries in ``jobs`` lists, each schema whole in one list, in archive order."""
    order: dict[str, int] = {}
    for line in entries:
        order.setdefault(str(schema_of(line)), len(order))
    lists: list[list[str]] = [[] for _ in range(max(1, jobs))]
    for line in entries:
        lists[order[str(schema_of(line))] % len(lists)].append(line)
    return [chosen for chosen in lists if chosen]


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
) -> dict[str, float]:
    """Restore the archive's entries into ``dbname``: shared ones first, then the schemas'.

    ``schemas`` names the company schemas (None: every namespace but the
    shared ones); ``shared=False`` leaves the shared entries out (the
    rollback of listed schemas). Returns the seconds of each part.
    """
    common, own, last = split_listing(listing, schemas)
    parts = [("shared entries", [common] if shared and common else [])]
    parts += [("schema entries", deal_out(own, jobs)), ("last", [last] if shared and last else [])]
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="qiro-restore-lists-") as tmp:
        for name, lists in parts:
            if lists:
                started = time.monotonic()
                _run_lists(tool, path, dbname, lists, Path(tmp), jobs=jobs)
                seconds[name] = time.monotonic() - started
    return seconds


def _maintenance(statement: sql.Composed) -> None:
    with pg.connect("postgres") as conn:
        conn.execute(statement)


@contextlib.contextmanager
def scratch_database(name: str, *, tablespace: str | None = None) -> Iterator[dict[str, float]]:
    """An empty database ``name`` (in the scratch tablespace, if one is set), dropped afterwards.

    Yields a dict that receives the seconds the drop took (``drop``), once it is done.
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
    finally:
        started = time.monotonic()
        _maintenance(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        timings["drop"] = time.monotonic() - started


def restore_jobs() -> int:
    """Parallel ``pg_restore`` processes of a test restore or a rollback (CPU count)."""
    from qiro.db.schema_migrations import default_connections

    return default_connections()


def run_test_restore(*, backup: Backup, operation: Operation | None = None) -> Backup:
    """Restore into a scratch database, verify it, compare rows per table, drop it.

    The whole archive is restored (``load``): every entry, so a test restore
    proves the archive restores. The outcome (and why, with the seconds of
    each part) is recorded on the backup; a mismatch is not raised but
    recorded, a broken file or failed restore is recorded and raised.
    """
    path = check_integrity(backup)
    scratch = f"{backup.database_name}_restore_{backup.pk}"[:63]
    notes: list[stored_text.Message] = []
    ok = True
    try:
        with pg.connect("postgres") as conn:
            major, _version = pg.server_version(conn)
        pg_restore = pg.find_tool("pg_restore", major)
        with scratch_database(scratch) as dropped:
            started = time.monotonic()
            if backup.scope == Backup.Scope.COMPANY:
                _public_structure_into(scratch, major, pg_restore)
            listing = pg.run_tool(pg_restore, ["--list", str(path)]).stdout
            parts = load(pg_restore, path, scratch, listing=listing, jobs=restore_jobs())
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
            with pg.connect(scratch) as conn:
                restored = pg.table_fingerprints(conn, schemas=backup.schemas)
            source = backup.row_counts
            mismatched = sorted(
                name
                for name in set(source) | set(restored)
                if source.get(name) != (restored[name][0] if name in restored else None)
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
            said(
                gettext_noop("scratch database dropped in %(seconds)s s"),
                seconds=_seconds(dropped["drop"]),
            )
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
