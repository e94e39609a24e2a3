"""A restore from the archive's own SQL in batches gives back the source, catalog and rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from psycopg import sql

from deployments import backups, restore_batches, scratch_restore
from qiro.db import pg
from tests.tenants.catalog import differences, schema_catalog

from .conftest import RECORD_PREFIXES, fingerprints

# Every company-only constraint with its own id, as written (the catalog helper hides the id).
COMPANY_ONLY = """
    SELECT n.nspname, c.relname, pg_get_constraintdef(k.oid)
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE k.conname = 'qiro_company_only' ORDER BY 1, 2
"""


def comparable(catalog: dict[str, set[tuple]]) -> dict[str, set[tuple]]:
    """The catalog without what a dump and restore rewrites or what changed since by design.

    PostgreSQL prints a restored ``IN`` list's casts differently (``(ARRAY['a'::character
    varying])::text[]`` comes back ``ARRAY[('a'::character varying)::text]``): the
    constraints are compared without casts and parentheses. The deployment records'
    sequences moved when the backup was recorded.
    """
    casts = re.compile(r"::[a-z ]+(\[\])?|[() ]")
    return {
        **catalog,
        "constraints": {(*c[:3], casts.sub("", c[3]), *c[4:]) for c in catalog["constraints"]},
        "sequence_state": {
            s for s in catalog["sequence_state"] if not s[0].startswith("deployments_")
        },
    }


def catalogs(dbname: str, schemas: list[str]) -> dict[str, object]:
    with pg.connect(dbname) as conn, conn.cursor() as cursor:
        found: dict[str, object] = {
            s: comparable(schema_catalog(s, state=True, cursor=cursor)) for s in schemas
        }
        found["company-only constraints"] = cursor.execute(COMPANY_ONLY).fetchall()
    return found


@pytest.fixture
def archived(platform, backup_dir, two_companies):
    """A whole-database backup, the source's catalogs and rows at that moment, a scratch name."""
    with pg.connect() as conn:  # a table with rows deleted: pages, but no rows
        conn.execute("DELETE FROM beta.sysauth_loginfailure")
        conn.execute(
            "INSERT INTO beta.sysauth_loginfailure (company_id, email, ip_address, failed_at) "
            "SELECT company_id, 'x@example.com', '127.0.0.1', now() FROM beta.sysauth_user LIMIT 1"
        )
        conn.execute("DELETE FROM beta.sysauth_loginfailure")
    schemas = ["public", "acme", "beta"]
    before = (fingerprints(), catalogs(str(pg.owner_params()["dbname"]), schemas))
    backup = backups.create_backup()
    scratch = f"{backup.database_name}_batches_{backup.pk}"[:63]
    yield backup, before, schemas, scratch
    scratch_restore._maintenance(
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
    )


def restore_into(scratch: str, backup, **options) -> dict[str, float]:
    scratch_restore._maintenance(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    with pg.connect("postgres") as conn:
        major, _ = pg.server_version(conn)
    tool = pg.find_tool("pg_restore", major)
    path = Path(backup.file_path)
    listing = pg.run_tool(tool, ["--list", str(path)]).stdout
    empty = {name for name, rows in backup.row_counts.items() if rows == 0}
    return scratch_restore.load(
        tool, path, scratch, listing=listing, jobs=2, empty_tables=empty, **options
    )


def rows_of(scratch: str) -> dict[str, object]:
    """Rows and checksums of every table of ``scratch`` but the deployment records."""
    with pg.connect(scratch) as conn:
        found = pg.table_fingerprints(conn, checksums=True)
    return {k: v for k, v in found.items() if not k.startswith(RECORD_PREFIXES)}


@pytest.mark.usefixtures("restores_from_a_dump")
@pytest.mark.parametrize("way", ["batches", "one by one", "psql meta-command: entry by entry"])
def test_a_restored_database_has_the_source_catalog_and_rows(archived, way, monkeypatch):
    backup, (rows, catalog), schemas, scratch = archived
    if way == "psql meta-command: entry by entry":

        def refused(text: str, per_batch: int = 0) -> tuple[str, list[str]]:
            raise restore_batches.MetaCommand(text[:20])

        monkeypatch.setattr(restore_batches, "batches", refused)
    parts = restore_into(scratch, backup, one_by_one=way == "one by one")
    if way == "batches":
        assert parts["schema entries: post-data"] > 0, parts
    elif way != "one by one":
        assert "schema entries: entries one by one" in parts, parts
    restored = catalogs(scratch, schemas)
    for schema in schemas:
        found = differences(catalog[schema], restored[schema])  # type: ignore[arg-type]
        assert not found, (
            schema,
            {k: [sorted(map(str, side)) for side in v] for k, v in found.items()},
        )
    assert restored["company-only constraints"] == catalog["company-only constraints"]
    assert len(catalog["company-only constraints"]) >= 2
    assert rows_of(scratch) == rows
    every_schema = sorted({name.split(".", 1)[0] for name in rows})
    counted = scratch_restore.restored_rows(scratch, every_schema, jobs=2)
    assert counted["beta.sysauth_loginfailure"] == 0
    assert counted["acme.sysauth_user"] == 2
    assert {k: v[0] for k, v in rows.items()} == {k: counted[k] for k in rows}


@pytest.mark.usefixtures("restores_from_a_dump")
def test_the_comparison_sees_a_lost_constraint_and_a_lost_row(archived):
    backup, (rows, catalog), schemas, scratch = archived
    restore_into(scratch, backup)
    with pg.connect(scratch) as conn:
        conn.execute("ALTER TABLE acme.sysauth_role DROP CONSTRAINT qiro_company_only")
        conn.execute(
            "DELETE FROM beta.sysauth_user WHERE ctid = (SELECT min(ctid) FROM beta.sysauth_user)"
        )
    restored = catalogs(scratch, schemas)
    assert differences(catalog["acme"], restored["acme"])  # type: ignore[arg-type]
    assert restored["company-only constraints"] != catalog["company-only constraints"]
    counted = scratch_restore.restored_rows(scratch, schemas, jobs=2)
    assert counted["beta.sysauth_user"] == rows["beta.sysauth_user"][0] - 1


def test_the_sql_is_cut_at_entry_headers_and_psql_commands_are_refused():
    entry = "--\n-- Name: t{0}; Type: TABLE; Schema: s; Owner: o\n--\n\nCREATE TABLE s.t{0} ();\n\n"
    text = (
        "\\restrict abc123\n\nSET x = 1;\n\n"
        + "".join(entry.format(n) for n in range(5))
        + "--\n-- dump complete\n--\n\n\\unrestrict abc123\n\n"
    )
    preamble, queries = restore_batches.batches(text, per_batch=2)
    assert preamble == "\nSET x = 1;\n\n"
    assert len(queries) == 3
    assert "".join(queries).count("CREATE TABLE") == 5
    assert preamble + "".join(queries) == text.replace("\\restrict abc123\n", "").replace(
        "\\unrestrict abc123\n", ""
    )
    with pytest.raises(restore_batches.MetaCommand):
        restore_batches.batches(text.replace("SET x = 1;", "\\connect other"))


def test_a_listing_names_the_tables_whose_rows_it_holds():
    line = "188237; 0 19100 TABLE DATA acme sysauth_user postgres"
    assert restore_batches.data_table(line) == "acme.sysauth_user"
    assert restore_batches.entry_kind(line) == "TABLE DATA"
    assert restore_batches.data_table("27455; 1247 19045 TYPE acme user_type postgres") is None
