"""SECURITY DEFINER functions of the sign-up decide their own limits and make the tokens.

The 0002 versions took a token's hash, lifetime, resend window and limit
from their caller, and the runtime role could INSERT tokens itself: SQL run as
that role could mint a ten-year token whose secret it knew and verify
someone else's address. Now:

* the runtime role has no right on the token table at all (policy dropped,
  INSERT revoked);
* ``registration_issue_first_token(application)`` and
  ``registration_issue_resend_token(email)`` make the token themselves
  (``registration_insert_email_token``, owner only), with the lifetime,
  window and limit of ``public.qiro_server_settings``; the secret is
  ``sha256(key || nonce)`` with the key of that row, so the nonce they return
  is useless without the application's SECRET_KEY;
* ``registration_consume_email_token`` takes the secret and hashes it itself.

The SQL is frozen here (``registration.policies`` declares the current
versions; verification compares the catalogs with them). Reversible: the
reverse re-installs 0002's functions, token policy and grants.
"""

from pathlib import Path

from django.conf import settings
from django.db import migrations
from psycopg import sql

SQL_0002 = Path(__file__).resolve().parent / "sql" / "0002_signup_functions.sql"

FORWARD_SQL = """
DROP FUNCTION public.registration_issue_resend_token(text, text, integer, integer, integer);
DROP FUNCTION public.registration_consume_email_token(text);
DROP POLICY IF EXISTS registration_signup_insert ON public.registration_emailverificationtoken;

CREATE FUNCTION public.registration_insert_email_token(p_application uuid)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    conf record;
    nonce bytea := decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''),
                          'hex');
BEGIN
    SELECT s.signup_token_seconds, s.signup_token_key INTO STRICT conf
      FROM public.qiro_server_settings s;
    INSERT INTO public.registration_emailverificationtoken
        (id, created_at, application_id, token_hash, expires_at, status)
    VALUES (gen_random_uuid(), now(), p_application,
            encode(sha256(convert_to(encode(sha256(conf.signup_token_key || nonce), 'hex'),
                                     'UTF8')), 'hex'),
            now() + make_interval(secs => conf.signup_token_seconds), 'pending');
    RETURN encode(nonce, 'hex');
END
$$;
REVOKE ALL ON FUNCTION public.registration_insert_email_token(uuid) FROM PUBLIC;

CREATE FUNCTION public.registration_issue_first_token(p_application uuid)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM 1 FROM public.registration_application a
     WHERE a.id = p_application AND a.status = 'submitted'
     FOR UPDATE;
    IF NOT FOUND OR EXISTS (SELECT 1 FROM public.registration_emailverificationtoken t
                            WHERE t.application_id = p_application) THEN
        RETURN NULL;
    END IF;
    RETURN public.registration_insert_email_token(p_application);
END
$$;
REVOKE ALL ON FUNCTION public.registration_issue_first_token(uuid) FROM PUBLIC;

CREATE FUNCTION public.registration_issue_resend_token(p_email text)
RETURNS TABLE (outcome text, language text, nonce text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    conf record;
    app record;
    recent integer;
BEGIN
    SELECT s.signup_resend_limit, s.signup_resend_window INTO STRICT conf
      FROM public.qiro_server_settings s;
    SELECT a.id, a.language INTO app
      FROM public.registration_application a
     WHERE lower(a.contact_email) = lower(p_email) AND a.status = 'submitted'
     ORDER BY a.submitted_at DESC
     LIMIT 1
     FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown'::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    SELECT count(*) INTO recent
      FROM public.registration_emailverificationtoken t
     WHERE t.application_id = app.id
       AND t.created_at > now() - make_interval(secs => conf.signup_resend_window);
    IF recent >= conf.signup_resend_limit THEN
        RETURN QUERY SELECT 'rate_limited'::text, app.language::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'sent'::text, app.language::text,
                        public.registration_insert_email_token(app.id);
END
$$;
REVOKE ALL ON FUNCTION public.registration_issue_resend_token(text) FROM PUBLIC;

CREATE FUNCTION public.registration_consume_email_token(p_token text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tok record;
    moved integer;
BEGIN
    SELECT t.id, t.created_at, t.application_id, t.expires_at, t.used_at, t.status
      INTO tok
      FROM public.registration_emailverificationtoken t
     WHERE t.token_hash = encode(sha256(convert_to(p_token, 'UTF8')), 'hex')
     FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'unknown';
    END IF;
    IF tok.used_at IS NOT NULL OR tok.status <> 'pending' THEN
        RETURN CASE WHEN tok.status = 'expired' THEN 'expired' ELSE 'used' END;
    END IF;
    IF tok.expires_at <= now() THEN
        UPDATE public.registration_emailverificationtoken t SET status = 'expired'
         WHERE t.id = tok.id AND t.created_at = tok.created_at;
        RETURN 'expired';
    END IF;
    UPDATE public.registration_emailverificationtoken t SET used_at = now(), status = 'verified'
     WHERE t.id = tok.id AND t.created_at = tok.created_at;
    UPDATE public.registration_application a
       SET status = 'email_verified', email_verified_at = now()
     WHERE a.id = tok.application_id AND a.status = 'submitted';
    GET DIAGNOSTICS moved = ROW_COUNT;
    RETURN CASE WHEN moved = 1 THEN 'verified' ELSE 'used' END;
END
$$;
REVOKE ALL ON FUNCTION public.registration_consume_email_token(text) FROM PUBLIC;
"""

BACKWARD_SQL = """
DROP FUNCTION IF EXISTS public.registration_consume_email_token(text);
DROP FUNCTION IF EXISTS public.registration_issue_resend_token(text);
DROP FUNCTION IF EXISTS public.registration_issue_first_token(uuid);
DROP FUNCTION IF EXISTS public.registration_insert_email_token(uuid);
"""


def _app_role() -> sql.Identifier:
    return sql.Identifier(settings.DATABASES["default"]["USER"])


def grant_forward(apps, schema_editor):
    """The runtime role may call the three functions and may no longer touch tokens."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "REVOKE ALL ON TABLE public.registration_emailverificationtoken FROM {}"
            ).format(_app_role())
        )
        for function in (
            "registration_issue_first_token(uuid)",
            "registration_issue_resend_token(text)",
            "registration_consume_email_token(text)",
        ):
            cursor.execute(
                sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
                    sql.SQL("public." + function), _app_role()
                )
            )


def grant_backward(apps, schema_editor):
    """0002's state: its functions, the token INSERT policy and the grants."""
    app = _app_role()
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKWARD_SQL)
        cursor.execute(SQL_0002.read_text())
        for statement in (
            "CREATE POLICY registration_signup_insert ON public.registration_emailverificationtoken "
            "FOR INSERT TO {} WITH CHECK (status = 'pending' AND used_at IS NULL)",
            "GRANT INSERT ON TABLE public.registration_emailverificationtoken TO {}",
        ):
            cursor.execute(sql.SQL(statement).format(app))
        for function in (
            "registration_consume_email_token(text)",
            "registration_issue_resend_token(text, text, integer, integer, integer)",
        ):
            signature = sql.SQL("public." + function)
            cursor.execute(sql.SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(signature))
            cursor.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(signature, app))


class Migration(migrations.Migration):
    dependencies = [
        ("registration", "0003_user_deletion_never_reads_reviews"),
        ("qiro", "0001_server_settings_and_address_failures"),
    ]

    operations = [
        migrations.RunSQL(FORWARD_SQL, migrations.RunSQL.noop),
        migrations.RunPython(grant_forward, grant_backward),
    ]
