"""The sign-up's steps write their audit rows: submitted, e-mail verified, link resent.

``registration_record_signup_step`` (owner only, like the token maker) appends
the row to ``public.sysauth_auditentry``; the three SECURITY DEFINER functions
that make the changes call it, in their own transaction, only when something
changed (a refused resend or a used link writes nothing). The runtime role has
no right on the audit rows of ``public`` without a company, so it cannot write
or forge one itself. The SQL is frozen here (``registration.policies``
declares the current versions); the reverse puts back 0004's bodies. Owners,
grants and ``SECURITY DEFINER`` stay as they are (``CREATE OR REPLACE``).
"""

from django.db import migrations

FORWARD_SQL = """
CREATE FUNCTION public.registration_record_signup_step(
    p_action text, p_application uuid, p_details jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO public.sysauth_auditentry
        (company_id, created_at, acting_user_id, acting_email, action, target_type, target_id,
         target_label, outcome, details)
    SELECT NULL, now(), NULL, '', p_action, 'registration.application', a.id::text,
           left(a.company_name || ' (' || a.subdomain || ')', 200), 'done', p_details
      FROM public.registration_application a
     WHERE a.id = p_application;
END
$$;
REVOKE ALL ON FUNCTION public.registration_record_signup_step(text, uuid, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.registration_issue_first_token(p_application uuid)
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
    PERFORM public.registration_record_signup_step(
        'application.submit', p_application,
        jsonb_build_object('status', jsonb_build_object('old', NULL, 'new', 'submitted')));
    RETURN public.registration_insert_email_token(p_application);
END
$$;

CREATE OR REPLACE FUNCTION public.registration_issue_resend_token(p_email text)
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
    PERFORM public.registration_record_signup_step(
        'application.resend', app.id,
        jsonb_build_object('links_in_window',
                           jsonb_build_object('old', recent, 'new', recent + 1)));
    RETURN QUERY SELECT 'sent'::text, app.language::text,
                        public.registration_insert_email_token(app.id);
END
$$;

CREATE OR REPLACE FUNCTION public.registration_consume_email_token(p_token text)
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
    IF moved = 1 THEN
        PERFORM public.registration_record_signup_step(
            'application.verify_email', tok.application_id,
            jsonb_build_object('status',
                               jsonb_build_object('old', 'submitted', 'new', 'email_verified')));
        RETURN 'verified';
    END IF;
    RETURN 'used';
END
$$;
"""

BACKWARD_SQL = """
CREATE OR REPLACE FUNCTION public.registration_issue_first_token(p_application uuid)
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

CREATE OR REPLACE FUNCTION public.registration_issue_resend_token(p_email text)
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

CREATE OR REPLACE FUNCTION public.registration_consume_email_token(p_token text)
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

DROP FUNCTION public.registration_record_signup_step(text, uuid, jsonb);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("registration", "0005_email_link_state"),
        ("sysauth", "0006_audit_log"),
    ]

    operations = [migrations.RunSQL(FORWARD_SQL, BACKWARD_SQL)]
