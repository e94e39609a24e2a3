"""Backups (``pg_dump -Fd -j``) and live restores (test restores: ``deployments.scratch_restore``).

Everything here runs with the owner's credentials. A backup is a directory
archive written by parallel dump jobs; it records what a restore needs to
trust it: its SHA-256 (``sha256_of``: over its files in name order), size,
versions, schemas, the archive's entry count, and the rows of every table in
the dump's own snapshot (the counts are taken in the transaction whose
snapshot pg_dump uses). Archives of the custom format (one file, made by
earlier versions) restore the same way.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from psycopg import sql

from deployments import leases
from deployments.models import Backup, Operation
from deployments.services import step
from qiro.db import pg
from qiro.db.archives import dump_jobs, remove_archive, sha256_of, size_of
from qiro.db.catalog import NOT_EXTENSION_SCHEMA_SQL
from qiro.db.citus import connection_is_citus
from qiro.db.roles import apply_company_schema_grants, apply_public_grants
from qiro.stored_text import said
from qiro.tenant_context import OWNER_ALIAS

# Platform records survive a live restore: the operation that restores (and
# the history of earlier ones) is carried over into the restored database.
RECORD_TABLE_PATTERNS = ("public.deployments_*", "public.django_tasks_database_*")


class BackupError(RuntimeError):
    """A backup cannot be made or used; the message says why, for people."""


# Why no archive is restored on Citus (docs/scaling.md, "Backups on Citus").
CITUS_REFUSAL = gettext_noop(
    "This database is a Citus cluster, where an archive is not restored: a pg_dump of the "
    "coordinator holds no company rows (they are on the worker nodes), and Citus refuses its "
    "table definitions replayed (identity columns added by ALTER TABLE) and a database "
    "created from template0. A cluster is restored node by node, from physical backups."
)


def refuse_on_citus() -> None:
    """Raise ``BackupError`` (``CITUS_REFUSAL``) if the live database is a Citus cluster.

    Asked before anything is created or dropped: on Citus a restore from an
    archive fails part way (its first batch of entries, or its first identity
    column), after the scratch database was made or the schemas were dropped.
    """
    if connection_is_citus(OWNER_ALIAS):
        error = BackupError(_(CITUS_REFUSAL))
        error.message = said(CITUS_REFUSAL)  # type: ignore[attr-defined]
        raise error


def backup_dir() -> Path:
    folder = Path(settings.QIRO_BACKUP_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def scratch_dir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder; under a lease, in the backup dir and named after its holder.

    So the reaper can remove what a dead holder left (restore scripts can be
    as large as the database).
    """
    held = leases.scratch_prefix()
    if held is None:
        return tempfile.TemporaryDirectory(prefix=prefix)
    return tempfile.TemporaryDirectory(prefix=held, dir=backup_dir())


def _entry_count(tool: pg.Tool, path: Path) -> int:
    listing = pg.run_tool(tool, ["--list", str(path)]).stdout
    return sum(1 for line in listing.splitlines() if line.strip() and not line.startswith(";"))


def create_backup(*, company_schema: str = "", operation: Operation | None = None) -> Backup:
    """``pg_dump -Fd -j N`` of the whole database, or of one company's schema.

    The row counts and the dump share one snapshot (``pg_export_snapshot``),
    so a restore can be compared with the source exactly. A failure is
    recorded on the backup row and raised.
    """
    with pg.connect() as probe:
        major, version = pg.server_version(probe)
        database = str(probe.info.dbname)
        if company_schema and company_schema not in pg.company_schemas(probe):
            raise BackupError(_("No company uses the schema %(s)s.") % {"s": company_schema})
    backup = Backup.objects.create(
        operation=operation,
        scope=Backup.Scope.COMPANY if company_schema else Backup.Scope.DATABASE,
        company_schema=company_schema,
        database_name=database,
        server_version=version,
    )
    started = time.monotonic()
    path: Path | None = None
    try:
        pg_dump = pg.find_tool("pg_dump", major)
        pg_restore = pg.find_tool("pg_restore", major)
        Backup.objects.filter(pk=backup.pk).update(
            pg_dump_path=str(pg_dump.path), pg_dump_version=pg_dump.version
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        name = f"{database}-{company_schema or 'all'}-{stamp}-{backup.pk}.dumpdir"
        path = backup_dir() / name
        # Recorded before pg_dump starts, so a reaper knows which partial file to remove.
        Backup.objects.filter(pk=backup.pk).update(file_path=str(path))
        with pg.connect(autocommit=False) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            assert row is not None
            schemas = [company_schema] if company_schema else [*_dumped_schemas(conn)]
            counts = pg.table_fingerprints(conn, schemas=schemas)
            if operation is not None:
                step(operation, gettext_noop("counted rows of %(count)d tables"), count=len(counts))
            args = [
                "--format=directory", f"--jobs={dump_jobs()}",
                f"--snapshot={row[0]}", f"--file={path}",
            ]  # fmt: skip
            if company_schema:
                args.append(f"--schema={company_schema}")
            pg.run_tool(pg_dump, args, dbname=database)
            conn.rollback()
        if operation is not None:
            step(operation, gettext_noop("pg_dump wrote %(file)s"), file=path.name)
        Backup.objects.filter(pk=backup.pk).update(
            file_path=str(path),
            size_bytes=size_of(path),
            sha256=sha256_of(path),
            schemas=schemas,
            entry_count=_entry_count(pg_restore, path),
            row_counts={k: v[0] for k, v in counts.items()},
            duration_seconds=time.monotonic() - started,
            status=Backup.Status.OK,
        )
    except Exception as error:
        # The partial dump goes first: recording the failure needs the database.
        if path is not None:
            leases.remove_partial_dump(str(path))
        Backup.objects.filter(pk=backup.pk).update(
            status=Backup.Status.FAILED,
            error=str(error),
            duration_seconds=time.monotonic() - started,
        )
        raise
    backup.refresh_from_db()
    apply_retention()
    return backup


def _dumped_schemas(conn: psycopg.Connection[Any]) -> list[str]:
    """The schemas a whole-database restore replaces: not the system's, nor an extension's."""
    query = sql.SQL(
        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%' "
        "AND nspname <> 'information_schema' AND {} ORDER BY 1"
    ).format(sql.SQL(NOT_EXTENSION_SCHEMA_SQL))
    rows = conn.execute(query).fetchall()
    return [r[0] for r in rows]


def apply_retention(*, keep: int | None = None) -> list[int]:
    """Delete all but the newest ``keep`` complete backups (files and rows).

    Never deletes the only backup that passed a test restore: if none of the
    kept ones is verified, the newest verified one is kept as well. Failed
    backups older than the kept ones go too. Returns the ids deleted.
    """
    keep = settings.QIRO_BACKUP_KEEP if keep is None else keep
    complete = list(Backup.objects.filter(status=Backup.Status.OK).order_by("-created_at", "-pk"))
    kept = complete[:keep]
    verified_kept = any(b.test_restore_ok for b in kept)
    doomed: list[Backup] = []
    for backup in complete[keep:]:
        if backup.test_restore_ok and not verified_kept:
            verified_kept = True
            continue
        doomed.append(backup)
    if kept:
        oldest_kept = kept[-1].created_at
        doomed += list(
            Backup.objects.filter(status=Backup.Status.FAILED, created_at__lt=oldest_kept)
        )
    for backup in doomed:
        if backup.file_path:
            remove_archive(Path(backup.file_path))
    Backup.objects.filter(pk__in=[b.pk for b in doomed]).delete()
    return [b.pk for b in doomed]


def check_integrity(backup: Backup) -> Path:
    """The backup's file, after proving it is complete and unchanged (SHA-256)."""
    if backup.status != Backup.Status.OK or not backup.file_path:
        raise BackupError(_("This backup did not complete; it cannot be restored."))
    path = Path(backup.file_path)
    if not path.exists():
        raise BackupError(_("The backup file %(path)s is missing.") % {"path": path})
    if sha256_of(path) != backup.sha256:
        raise BackupError(
            _("The backup file %(path)s no longer matches its SHA-256; it will not be restored.")
            % {"path": path}
        )
    return path


def expected_confirmation(backup: Backup) -> str:
    """What a person must type to restore this backup over the live data."""
    return backup.company_schema or backup.database_name


def restore_live(*, backup: Backup, confirmation: str, operation: Operation | None = None) -> None:
    """Replace the live database (or one company's schema) with the backup.

    Only with the typed confirmation (the company's schema or the database
    name) and only from a file whose SHA-256 still matches. One psql
    transaction drops what the backup replaces and restores it, so a failure
    leaves the live data as it was; the runtime roles' rights are then reset
    to what ``qiro.db.roles`` declares. Whole-database restores keep the
    platform's deployment records (operations, backups, runs) as they are now.
    """
    if confirmation != expected_confirmation(backup):
        raise BackupError(
            _("Type %(expected)s exactly to confirm the restore.")
            % {"expected": expected_confirmation(backup)}
        )
    path = check_integrity(backup)
    with pg.connect() as conn:
        major, _version = pg.server_version(conn)
        database = str(conn.info.dbname)
        live_schemas = _dumped_schemas(conn)
    if database != backup.database_name:
        raise BackupError(
            _("This backup is of the database %(backup)s, not %(live)s.")
            % {"backup": backup.database_name, "live": database}
        )
    pg_restore = pg.find_tool("pg_restore", major)
    psql = pg.find_tool("psql", major)
    pg_dump = pg.find_tool("pg_dump", major)
    connections[OWNER_ALIAS].close()
    with scratch_dir("qiro-restore-") as tmp:
        folder = Path(tmp)
        prelude, postlude = folder / "prelude.sql", folder / "postlude.sql"
        script = folder / "restore.sql"
        pg.run_tool(pg_restore, ["--file", str(script), str(path)])
        if backup.scope == Backup.Scope.COMPANY:
            drops: list[sql.Composable] = [
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE;").format(
                    sql.Identifier(backup.company_schema)
                )
            ]
            post: list[str] = []
        else:
            drops = [
                sql.SQL("DROP SCHEMA {} CASCADE;").format(sql.Identifier(s)) for s in live_schemas
            ]
            drops += [
                sql.SQL("CREATE SCHEMA public;"),
                sql.SQL("ALTER SCHEMA public OWNER TO pg_database_owner;"),
            ]
            post = _record_tables_script(pg_dump, pg_restore, folder)
        prelude.write_text("\n".join(d.as_string(None) for d in drops) + "\n")
        postlude.write_text("\n".join(post) + "\n")
        if operation is not None:
            step(
                operation,
                gettext_noop("restore script ready; replacing the data in one transaction"),
            )
        pg.run_tool(
            psql,
            [
                "--no-psqlrc", "--quiet", "--single-transaction",
                "--set", "ON_ERROR_STOP=1",
                "--file", str(prelude), "--file", str(script), "--file", str(postlude),
            ],
        )  # fmt: skip
    reapply_grants([backup.company_schema] if backup.company_schema else backup.schemas)
    if operation is not None:
        step(operation, gettext_noop("restore committed; grants re-applied as declared"))


def reapply_grants(schemas: list[str]) -> None:
    """The runtime roles' rights as declared, for every restored schema (one transaction).

    Needed because tables re-created by a restore first receive the owner's
    default privileges (DML for the runtime role on every table) and the
    dump's ACLs only add to those: without this, owner-only tables such as
    ``django_migrations`` would come back writable by the runtime role.
    """
    with pg.connect() as conn, conn.transaction(), conn.cursor() as cursor:
        for schema in schemas:
            if schema == "public":
                apply_public_grants(cursor)
            elif not schema.startswith("pg_") and schema != "information_schema":
                apply_company_schema_grants(cursor, schema)


def _record_tables_script(pg_dump: pg.Tool, pg_restore: pg.Tool, folder: Path) -> list[str]:
    """SQL that puts the deployment records of now back after a whole restore."""
    saved = folder / "records.dump"
    args = ["--format=custom", "--data-only", f"--file={saved}"]
    for pattern in RECORD_TABLE_PATTERNS:
        args.append(f"--table={pattern}")
    pg.run_tool(pg_dump, args)
    data = folder / "records.sql"
    pg.run_tool(pg_restore, ["--file", str(data), str(saved)])
    with pg.connect() as conn:
        tables = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' "
            "AND (c.relname LIKE 'deployments\\_%%' "
            "OR c.relname LIKE 'django\\_tasks\\_database\\_%%')"
        ).fetchall()
    truncate = sql.SQL("TRUNCATE {};").format(
        sql.SQL(", ").join(sql.Identifier("public", t[0]) for t in tables)
    )
    return [truncate.as_string(None), f"\\i {data}"] if tables else []
