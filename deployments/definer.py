"""The SECURITY DEFINER function of the readiness probe, declared for verification.

``qiro_migration_counts(apps, names)`` tells the platform role how many
schemas there are and how many lack a migration, and nothing else (see
``deployments.health``). Migration ``deployments/0003`` installed it from a
frozen copy of this text; verification compares the installed function with it.
"""

from __future__ import annotations

from qiro.definer import DeclaredFunction

MIGRATION_COUNTS = DeclaredFunction(
    signature="qiro_migration_counts(text[], text[])",
    result="TABLE(schemas integer, outdated integer)",
    execute=("platform",),
    body=r"""
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
""",
)
READINESS_FUNCTIONS = (MIGRATION_COUNTS,)
