"""``qiro_migration_counts``: how many schemas lack a migration, for /health/ready/.

Readiness runs in web requests, which must never open the owner's
connection, and the platform role may read neither ``django_migrations``
(owner-only in every schema) nor company schemas. This SECURITY DEFINER
function, owned by the owner and executable by the platform role only,
answers one question with two counts: how many schemas there are (public and
every company's) and how many of them miss one of the migrations the caller
names. No schema name, row or error text leaves it. The reads are set-based,
one ``UNION ALL`` over at most 500 schemas per statement (as
``qiro.migration_state`` does), so its cost does not grow by a query per
schema.
"""

from django.conf import settings
from django.db import migrations
from psycopg import sql

FUNCTION = "public.qiro_migration_counts(text[], text[])"

CREATE_SQL = r"""
CREATE OR REPLACE FUNCTION public.qiro_migration_counts(expected_apps text[], expected_names text[])
RETURNS TABLE (schemas integer, outdated integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    every_schema text[];
    with_table text[];
    chunk text[];
    applied text;
    behind integer;
    next_at integer := 1;
    batch constant integer := 500;
BEGIN
    SELECT array_agg(s ORDER BY s) INTO every_schema FROM (
        SELECT 'public'::text AS s
        UNION SELECT c.schema_name::text FROM public.tenants_company c
    ) found;
    SELECT coalesce(array_agg(n.nspname::text ORDER BY n.nspname), '{}') INTO with_table
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname = 'django_migrations' AND c.relkind = 'r'
      AND n.nspname = ANY(every_schema);
    schemas := cardinality(every_schema);
    outdated := schemas - cardinality(with_table);
    WHILE next_at <= cardinality(with_table) LOOP
        chunk := with_table[next_at:next_at + batch - 1];
        SELECT string_agg(
            format('SELECT %L::text AS nspname, app::text, name::text FROM %I.django_migrations',
                   s, s),
            ' UNION ALL ')
        INTO applied FROM unnest(chunk) s;
        -- One anti-join of (schema, expected migration) against what is recorded.
        EXECUTE format(
            'WITH applied AS MATERIALIZED (%s) '
            'SELECT count(DISTINCT s.nspname)::integer '
            'FROM unnest($1::text[]) s(nspname) '
            'CROSS JOIN unnest($2::text[], $3::text[]) e(app, name) '
            'WHERE NOT EXISTS (SELECT 1 FROM applied a WHERE a.nspname = s.nspname '
            '                  AND a.app = e.app AND a.name = e.name)',
            applied)
        INTO behind USING chunk, expected_apps, expected_names;
        outdated := outdated + behind;
        next_at := next_at + batch;
    END LOOP;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION public.qiro_migration_counts(text[], text[]) FROM PUBLIC;
"""

DROP_SQL = "DROP FUNCTION IF EXISTS public.qiro_migration_counts(text[], text[])"


def grant_to_platform(apps, schema_editor):
    # The platform role's name as the settings give it (frozen: no project code).
    platform = settings.DATABASES["platform"]["USER"]
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
                sql.SQL(FUNCTION), sql.Identifier(platform)
            )
        )


class Migration(migrations.Migration):
    dependencies = [("deployments", "0002_operation_leases"), ("tenants", "0001_initial")]

    operations = [
        migrations.RunSQL(sql=CREATE_SQL, reverse_sql=DROP_SQL),
        migrations.RunPython(grant_to_platform, migrations.RunPython.noop),
    ]
