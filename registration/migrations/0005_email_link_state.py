"""``registration_email_link_state(secret)``: the state of a verification link, read only.

The link's page asks it on GET so that an unknown, used or expired link is told
apart before anything is pressed, without consuming the token (mail scanners
open links). SECURITY DEFINER (the runtime role cannot read the token table),
owned by the owner, ``search_path`` pinned, EXECUTE for the runtime role only.
The SQL is a frozen copy of ``registration.link_state.LINK_STATE``.
"""

from django.conf import settings
from django.db import migrations
from psycopg import sql

FORWARD_SQL = """
CREATE FUNCTION public.registration_email_link_state(p_token text)
RETURNS TABLE (state text, company_name text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tok record;
BEGIN
    SELECT t.expires_at, t.used_at, t.status, a.status AS application_status, a.company_name
      INTO tok
      FROM public.registration_emailverificationtoken t
      JOIN public.registration_application a ON a.id = t.application_id
     WHERE t.token_hash = encode(sha256(convert_to(p_token, 'UTF8')), 'hex');
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown'::text, NULL::text;
    ELSIF tok.status = 'expired' OR (tok.status = 'pending' AND tok.expires_at <= now()) THEN
        RETURN QUERY SELECT 'expired'::text, NULL::text;
    ELSIF tok.used_at IS NOT NULL OR tok.status <> 'pending'
          OR tok.application_status <> 'submitted' THEN
        RETURN QUERY SELECT 'used'::text, NULL::text;
    ELSE
        RETURN QUERY SELECT 'pending'::text, tok.company_name::text;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION public.registration_email_link_state(text) FROM PUBLIC;
"""

BACKWARD_SQL = "DROP FUNCTION IF EXISTS public.registration_email_link_state(text);"


def grant_forward(apps, schema_editor):
    """Only the runtime role (the anonymous sign-up pages) may ask."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "GRANT EXECUTE ON FUNCTION public.registration_email_link_state(text) TO {}"
            ).format(sql.Identifier(settings.DATABASES["default"]["USER"]))
        )


class Migration(migrations.Migration):
    dependencies = [("registration", "0004_signup_functions_decide_their_limits")]

    operations = [
        migrations.RunSQL(FORWARD_SQL, BACKWARD_SQL),
        migrations.RunPython(grant_forward, migrations.RunPython.noop),
    ]
