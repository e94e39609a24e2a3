from django.conf import settings
from django.db import migrations
from psycopg import sql

# One query routes a request: the host lookup also returns what the middleware
# and the company's pages show first (its name and plan), so the Company row is
# not read again. The rest of the row loads only when a view asks for it.
ROUTE_SQL = """
DROP FUNCTION IF EXISTS public.qiro_resolve_host(text);
CREATE FUNCTION public.qiro_resolve_host(hostname text)
RETURNS TABLE (company_id bigint, schema_name text, status text, name text, plan text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.id, c.schema_name::text, c.status::text, c.name::text, c.plan::text
    FROM public.tenants_domain d
    JOIN public.tenants_company c ON c.id = d.tenant_id
    WHERE d.domain = lower(hostname)
$$
"""

PREVIOUS_SQL = """
DROP FUNCTION IF EXISTS public.qiro_resolve_host(text);
CREATE FUNCTION public.qiro_resolve_host(hostname text)
RETURNS TABLE (company_id bigint, schema_name text, status text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.id, c.schema_name::text, c.status::text
    FROM public.tenants_domain d
    JOIN public.tenants_company c ON c.id = d.tenant_id
    WHERE d.domain = lower(hostname)
$$
"""


def only_the_runtime_role_resolves(apps, schema_editor):
    """The request's own login routes it; no other role of the server may ask."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("REVOKE ALL ON FUNCTION public.qiro_resolve_host(text) FROM PUBLIC")
        cursor.execute(
            sql.SQL("GRANT EXECUTE ON FUNCTION public.qiro_resolve_host(text) TO {}").format(
                sql.Identifier(settings.DATABASES["default"]["USER"])
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0003_company_name_index"),
    ]

    operations = [
        migrations.RunSQL(
            [statement + ";" for statement in ROUTE_SQL.strip().split(";\n") if statement],
            reverse_sql=[s + ";" for s in PREVIOUS_SQL.strip().split(";\n") if s],
        ),
        migrations.RunPython(only_the_runtime_role_resolves, migrations.RunPython.noop),
    ]
