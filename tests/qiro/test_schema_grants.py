"""The runtime role's rights in a company schema, granted table by table.

``apply_company_schema_grants`` names the schema's relations (found through
pg_depend) instead of ``GRANT ... ON ALL TABLES IN SCHEMA``, which reads the
whole of pg_class. These tests hold it to what "all tables" means.
"""

from __future__ import annotations

from django.db import connections
from psycopg import sql

from qiro.db.catalog import schema_relations
from qiro.db.roles import apply_company_schema_grants, role_name


def _catalog(cursor, schema: str) -> tuple[list[str], list[str]]:
    """The same answer read the slow, obvious way: pg_class by namespace."""
    cursor.execute(
        "SELECT c.relname, c.relkind = 'S' FROM pg_class c "
        "WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s) "
        "AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') ORDER BY 1",
        [schema],
    )
    rows = cursor.fetchall()
    return [n for n, s in rows if not s], [n for n, s in rows if s]


def test_schema_relations_are_every_table_view_and_sequence_of_the_schema(live_db, two_companies):
    a, _ = two_companies
    schema = a.company.schema_name
    with connections["owner"].cursor() as cursor:
        tables, sequences = schema_relations(cursor, schema)
        assert (tables, sequences) == _catalog(cursor, schema)
        assert "sysauth_user" in tables
        assert "sysauth_user_id_seq" in sequences
        assert schema_relations(cursor, "no_such_schema") == ([], [])


def test_a_table_added_to_a_company_schema_gets_the_runtime_rights(live_db, two_companies):
    a, b = two_companies
    schema = a.company.schema_name
    extra = sql.Identifier(schema, "extra_notes")
    owner = connections["owner"]
    try:
        with owner.cursor() as cursor:
            cursor.execute(
                sql.SQL("CREATE TABLE {} (id bigserial PRIMARY KEY, note text)").format(extra)
            )
            # Default privileges would grant it: take them away, as if lost.
            cursor.execute(
                sql.SQL("REVOKE ALL ON {}, {} FROM {}").format(
                    extra,
                    sql.Identifier(schema, "extra_notes_id_seq"),
                    sql.Identifier(role_name("app")),
                )
            )
            cursor.execute(
                "SELECT has_table_privilege(%s, %s, 'INSERT')",
                [role_name("app"), f"{schema}.extra_notes"],
            )
            assert cursor.fetchone()[0] is False, "no right before the grants"
            apply_company_schema_grants(cursor, schema)
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                cursor.execute(
                    "SELECT has_table_privilege(%s, %s, %s)",
                    [role_name("app"), f"{schema}.extra_notes", privilege],
                )
                assert cursor.fetchone()[0] is True, privilege
            cursor.execute(
                "SELECT has_sequence_privilege(%s, %s, 'USAGE')",
                [role_name("app"), f"{schema}.extra_notes_id_seq"],
            )
            assert cursor.fetchone()[0] is True
            # Only that schema: the other company's schema gained nothing.
            cursor.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = 'extra_notes'",
                [b.company.schema_name],
            )
            assert cursor.fetchone()[0] == 0
    finally:
        with owner.cursor() as cursor:
            cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(extra))


def test_the_append_only_history_keeps_its_narrowed_rights(live_db, two_companies):
    a, _ = two_companies
    table = f"{a.company.schema_name}.sysauth_rolepermissionhistory"
    with connections["owner"].cursor() as cursor:
        apply_company_schema_grants(cursor, a.company.schema_name)
        rights = {}
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            cursor.execute(
                "SELECT has_table_privilege(%s, %s, %s)", [role_name("app"), table, privilege]
            )
            rights[privilege] = cursor.fetchone()[0]
    assert rights == {"SELECT": True, "INSERT": True, "UPDATE": False, "DELETE": False}
