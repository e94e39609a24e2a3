"""Server-side settings and the cross-company count of failed sign-ins, in public.

Both tables are the owner's alone: row security forced with no policy (the
runtime roles' grants are taken away by ``runtime_privileges = ()``). The
runtime roles record a failure and ask "is this address over the limit"
through SECURITY DEFINER functions, whose SQL is frozen here as it was first
installed (``sysauth.address_throttle`` declares the current versions;
verification compares them).
"""

from django.conf import settings
from django.db import migrations, models
from psycopg import sql

TABLES = ("qiro_server_settings", "qiro_address_login_failure")

FUNCTIONS_SQL = """
CREATE FUNCTION public.qiro_record_login_failure(p_ip inet)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO public.qiro_address_login_failure (ip_address, failed_at)
    VALUES (p_ip, now());
END
$$;
REVOKE ALL ON FUNCTION public.qiro_record_login_failure(inet) FROM PUBLIC;

CREATE FUNCTION public.qiro_login_address_throttled(p_ip inet)
RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    conf record;
    recent integer;
BEGIN
    SELECT s.login_failures_per_ip, s.login_failure_window INTO STRICT conf
      FROM public.qiro_server_settings s;
    -- Counts no further than the limit, whatever a spray has written.
    SELECT count(*) INTO recent FROM (
        SELECT 1 FROM public.qiro_address_login_failure f
         WHERE f.ip_address = p_ip
           AND f.failed_at > now() - make_interval(secs => conf.login_failure_window)
         LIMIT conf.login_failures_per_ip) counted;
    RETURN recent >= conf.login_failures_per_ip;
END
$$;
REVOKE ALL ON FUNCTION public.qiro_login_address_throttled(inet) FROM PUBLIC;

CREATE FUNCTION public.qiro_forget_old_login_failures()
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    forgotten integer;
BEGIN
    DELETE FROM public.qiro_address_login_failure f
     WHERE f.failed_at <= now() - make_interval(secs => (
         SELECT s.login_failure_window FROM public.qiro_server_settings s));
    GET DIAGNOSTICS forgotten = ROW_COUNT;
    RETURN forgotten;
END
$$;
REVOKE ALL ON FUNCTION public.qiro_forget_old_login_failures() FROM PUBLIC;
"""

DROP_FUNCTIONS_SQL = """
DROP FUNCTION IF EXISTS public.qiro_forget_old_login_failures();
DROP FUNCTION IF EXISTS public.qiro_login_address_throttled(inet);
DROP FUNCTION IF EXISTS public.qiro_record_login_failure(inet);
"""

EXECUTE_GRANTS = (
    ("qiro_record_login_failure(inet)", ("default", "platform")),
    ("qiro_login_address_throttled(inet)", ("default", "platform")),
    ("qiro_forget_old_login_failures()", ("platform",)),
)


def owner_only(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            target = sql.Identifier("public", table)
            for statement in (
                "ALTER TABLE {} ENABLE ROW LEVEL SECURITY",
                "ALTER TABLE {} FORCE ROW LEVEL SECURITY",
                "REVOKE ALL ON TABLE {} FROM PUBLIC",
            ):
                cursor.execute(sql.SQL(statement).format(target))


def grant_execute(apps, schema_editor):
    """The runtime roles' names are configuration (settings.DATABASES), not code."""
    with schema_editor.connection.cursor() as cursor:
        for function, aliases in EXECUTE_GRANTS:
            roles = sql.SQL(", ").join(
                sql.Identifier(settings.DATABASES[alias]["USER"]) for alias in aliases
            )
            cursor.execute(
                sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
                    sql.SQL("public." + function), roles
                )
            )


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="AddressLoginFailure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("ip_address", models.GenericIPAddressField()),
                ("failed_at", models.DateTimeField()),
            ],
            options={
                "db_table": "qiro_address_login_failure",
                "indexes": [
                    models.Index(fields=["ip_address", "failed_at"], name="qiro_addrfail_ip_at"),
                    models.Index(fields=["failed_at"], name="qiro_addrfail_at"),
                ],
            },
        ),
        migrations.CreateModel(
            name="ServerSettings",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False),
                ),
                ("signup_token_seconds", models.PositiveIntegerField()),
                ("signup_resend_limit", models.PositiveIntegerField()),
                ("signup_resend_window", models.PositiveIntegerField()),
                ("signup_token_key", models.BinaryField(max_length=32)),
                ("login_failures_per_ip", models.PositiveIntegerField()),
                ("login_failure_window", models.PositiveIntegerField()),
                ("written_at", models.DateTimeField()),
            ],
            options={
                "db_table": "qiro_server_settings",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("id", 1)), name="qiro_server_settings_one_row"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("signup_resend_window__gt", 0),
                            ("signup_token_seconds__gt", 0),
                            ("login_failure_window__gt", 0),
                            ("login_failures_per_ip__gt", 0),
                        ),
                        name="qiro_server_settings_positive",
                    ),
                ],
            },
        ),
        migrations.RunPython(owner_only, migrations.RunPython.noop),
        migrations.RunSQL(FUNCTIONS_SQL, DROP_FUNCTIONS_SQL),
        migrations.RunPython(grant_execute, migrations.RunPython.noop),
    ]
