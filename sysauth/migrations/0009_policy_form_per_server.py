"""Row policies of schemas made before the form followed the server, in the server's form.

The isolation policy reads the company once per statement (a sub-select) on
plain PostgreSQL and per row on Citus, which refuses sub-selects in the
policies of its tables (``qiro.rls``). Schemas made before that choice, or
made on plain PostgreSQL and then brought to a Citus cluster, still hold the
sub-select: Citus cannot distribute such a schema, and verification names
each policy. On Citus this migration re-creates, in the schema it migrates
(``public`` and every company schema), the isolation policy of each table
that still has a sub-select, in the per-row form, with its comment
``qiro:<declared>:<installed>`` as ``qiro.db.declared`` writes it. A policy
already in the per-row form is left alone (a new schema's, whose hash the
migration's post_migrate step writes).
On plain PostgreSQL it leaves every policy exactly as it is.

Frozen: the tables, their company columns and the declaration's digest are
written out here; nothing of the project's live code is called.
"""

import hashlib

from django.db import migrations
from psycopg import sql

PER_ROW_COMPANY = "(NULLIF(current_setting('qiro.company_id', true), '')::bigint)"
# (table, company column) of every table with the isolation policy when this
# migration was written; tenants' two tables live in public only.
TABLES = (
    ("tenants_company", "id"),
    ("tenants_domain", "tenant_id"),
    ("sysauth_user", "company_id"),
    ("sysauth_session", "company_id"),
    ("sysauth_role", "company_id"),
    ("sysauth_rolepermission", "company_id"),
    ("sysauth_userrole", "company_id"),
    ("sysauth_rolepermissionhistory", "company_id"),
    ("sysauth_loginfailure", "company_id"),
    ("sysauth_auditentry", "company_id"),
    ("sysauth_apitoken", "company_id"),
)
# A policy's shape as the catalogs print it (qiro.db.declared.POLICY_SHAPE, frozen).
POLICY_SHAPE = r"""regexp_replace(concat_ws(' ', p.polcmd::text, p.polpermissive::text,
    (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END, ','
                       ORDER BY 1) FROM unnest(p.polroles) r),
    'USING', coalesce(pg_get_expr(p.polqual, p.polrelid), '-'),
    'CHECK', coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-')), '\s+', ' ', 'g')"""


def declared_digest(column):
    """The MD5 of the per-row declaration, as ``DeclaredPolicy.digest`` computes it."""
    predicate = f"{column} = {PER_ROW_COMPANY}"
    text = " ".join(f"ALL TO public USING {predicate} CHECK {predicate}".split())
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


DIGESTS = {table: declared_digest(column) for table, column in TABLES}


def _frozen_block():
    rows = sql.SQL(", ").join(
        sql.SQL("({}, {}, {})").format(
            sql.Literal(table), sql.Literal(column), sql.Literal(DIGESTS[table])
        )
        for table, column in TABLES
    )
    return sql.SQL(
        """
DO $frozen$
DECLARE
    item record;
    shape text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    FOR item IN
        SELECT c.oid, c.relname, x.col, x.digest
        FROM (VALUES {rows}) AS x(tbl, col, digest)
        JOIN pg_class c ON c.relname = x.tbl AND c.relkind IN ('r', 'p')
             AND c.relnamespace = current_schema()::regnamespace
        JOIN pg_policy p ON p.polrelid = c.oid AND p.polname = 'qiro_company_isolation'
        WHERE coalesce(pg_get_expr(p.polqual, p.polrelid), '') ~* '\\mselect\\M'
           OR coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '') ~* '\\mselect\\M'
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP POLICY qiro_company_isolation ON %I.%I',
                       current_schema(), item.relname);
        EXECUTE format('CREATE POLICY qiro_company_isolation ON %I.%I AS PERMISSIVE FOR ALL '
                       'TO PUBLIC USING (%I = {company}) WITH CHECK (%I = {company})',
                       current_schema(), item.relname, item.col, item.col);
        SELECT md5({shape}) INTO shape FROM pg_policy p
        WHERE p.polrelid = item.oid AND p.polname = 'qiro_company_isolation';
        EXECUTE format('COMMENT ON POLICY qiro_company_isolation ON %I.%I IS %L',
                       current_schema(), item.relname, 'qiro:' || item.digest || ':' || shape);
    END LOOP;
END
$frozen$
"""
    ).format(
        rows=rows,
        company=sql.SQL(PER_ROW_COMPANY.replace("'", "''")),
        shape=sql.SQL(POLICY_SHAPE),
    )


FORWARD = _frozen_block().as_string(None)


class Migration(migrations.Migration):
    dependencies = [
        ("sysauth", "0008_history_table_name_on_shards"),
    ]

    # Backwards: nothing to undo; the sub-select is a form Citus refuses.
    operations = [migrations.RunSQL(sql=[FORWARD], reverse_sql=migrations.RunSQL.noop)]
