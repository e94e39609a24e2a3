"""A deploy's rollback scope: put back only the schemas it changed.

From a whole-database archive (directory or custom format), without reading
the rest of it: the archive's table of contents is listed once
(``pg_restore --list``), the entries of the chosen schemas are kept (the
schemas' own entries aside: each is re-created empty), and
``deployments.scratch_restore.load`` restores just those, by as many jobs
at once, each with its share of the schemas, from the archive's own SQL in
large batches (``deployments.restore_batches``). Schemas not named are never
touched.
"""

from __future__ import annotations

import time

from django.db import connections
from django.utils.translation import gettext as _
from psycopg import sql

from deployments.backups import BackupError, check_integrity, reapply_grants, refuse_on_citus
from deployments.models import Backup
from deployments.scratch_restore import load, restore_jobs
from qiro.db import pg
from qiro.tenant_context import OWNER_ALIAS


def restore_schemas(*, backup: Backup, schemas: list[str]) -> float:
    """Put ``schemas`` back as they are in a whole-database ``backup``; nothing else is touched.

    One transaction drops and re-creates the schemas (empty); then
    ``restore_jobs()`` jobs load their entries of the archive, each its share
    of the schemas (``load``: the structure in batches of entries, the rows
    by ``pg_restore``), committing without waiting for the disk; then the runtime roles' rights are
    reset as declared, in a transaction that commits synchronously (so what
    the restore wrote is on disk when this returns). The load is not one transaction
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
    path = check_integrity(backup)  # a broken file is said as such, on Citus too
    refuse_on_citus()  # before the drop: on Citus the load would fail after it
    with pg.connect() as conn:
        major, _version = pg.server_version(conn)
        database = str(conn.info.dbname)
    pg_restore = pg.find_tool("pg_restore", major)
    listing = pg.run_tool(pg_restore, ["--list", str(path)]).stdout
    connections[OWNER_ALIAS].close()
    with pg.connect() as conn, conn.transaction():
        for schema in schemas:
            name = sql.Identifier(schema)
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(name))
            conn.execute(sql.SQL("CREATE SCHEMA {0}").format(name))
    empty = {name for name, rows in backup.row_counts.items() if rows == 0}
    load(pg_restore, path, database, listing=listing, schemas=set(schemas), shared=False,
         jobs=restore_jobs(), empty_tables=empty)  # fmt: skip
    reapply_grants(schemas)
    return time.monotonic() - started
