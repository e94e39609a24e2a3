"""A deploy's rollback scope: put back only the schemas it changed.

From a whole-database archive (directory or custom format), without reading
the rest of it: the archive's table of contents is listed once
(``pg_restore --list``), the entries of the chosen schemas are kept, and
``pg_restore --use-list`` restores just those with parallel jobs. Schemas not
named are never touched.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from django.db import connections
from django.utils.translation import gettext as _
from psycopg import sql

from deployments.backups import BackupError, check_integrity, reapply_grants
from deployments.models import Backup
from qiro.db import pg
from qiro.db.archives import restore_jobs
from qiro.tenant_context import OWNER_ALIAS

# "<dump id>; <catalog oid> <object oid> <KIND, upper-case words> <schema> <name> <owner>"
# Schema names here are lower-case (companies' sub-domains, pool names), so the
# first word that is not all upper-case is the schema ("-" for none).
TOC_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:[A-Z]+ )+(?P<schema>\S+) ")


def entries_of(listing: str, schemas: set[str]) -> list[str]:
    """The lines of a ``pg_restore --list`` that belong to ``schemas``.

    The schemas' own entries (``SCHEMA - name``) are left out: the restore
    creates each schema itself, empty, before loading what was in it.
    """
    kept = []
    for line in listing.splitlines():
        found = TOC_ENTRY.match(line)
        if found and found["schema"] in schemas:
            kept.append(line)
    return kept


def restore_schemas(*, backup: Backup, schemas: list[str]) -> float:
    """Put ``schemas`` back as they are in a whole-database ``backup``; nothing else is touched.

    One transaction drops and re-creates the schemas (empty); then
    ``pg_restore --jobs`` loads their entries of the archive, the data first
    and the indexes and constraints after, several at a time; then the runtime
    roles' rights are reset as declared. The load is not one transaction
    (parallel jobs cannot share one): should it fail, the error is raised and
    running this again starts over from the drop. Returns the seconds it took.
    """
    started = time.monotonic()
    if backup.scope != Backup.Scope.DATABASE:
        raise BackupError(_("Only a whole-database backup restores a set of schemas."))
    missing = sorted(set(schemas) - set(backup.schemas))
    if missing:
        raise BackupError(_("The backup holds no schema %(s)s.") % {"s": ", ".join(missing[:5])})
    if not schemas:
        return 0.0
    path = check_integrity(backup)
    with pg.connect() as conn:
        major, _version = pg.server_version(conn)
        database = str(conn.info.dbname)
    pg_restore = pg.find_tool("pg_restore", major)
    listing = pg.run_tool(pg_restore, ["--list", str(path)]).stdout
    chosen = entries_of(listing, set(schemas))
    connections[OWNER_ALIAS].close()
    with pg.connect() as conn, conn.transaction():
        for schema in schemas:
            name = sql.Identifier(schema)
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(name))
            conn.execute(sql.SQL("CREATE SCHEMA {0}").format(name))
    with tempfile.TemporaryDirectory(prefix="qiro-restore-schemas-") as tmp:
        entries = Path(tmp) / "entries.list"
        entries.write_text("\n".join(chosen) + "\n")
        pg.run_tool(
            pg_restore,
            ["--exit-on-error", f"--jobs={restore_jobs()}", f"--use-list={entries}",
             f"--dbname={database}", str(path)],
        )  # fmt: skip
    reapply_grants(schemas)
    return time.monotonic() - started
