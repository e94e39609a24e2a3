-- SECURITY DEFINER functions of the anonymous sign-up flow (see registration/policies.py).
-- Each answers one question or does one thing; the runtime role may execute them
-- but has no right to read the tables they use.

-- Is this BRN, sub-domain (its schema name and host) already pending or active?
CREATE OR REPLACE FUNCTION public.registration_availability(
    p_brn text, p_subdomain text, p_schema text, p_host text)
RETURNS TABLE (brn_taken boolean, subdomain_taken boolean)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT
        EXISTS (SELECT 1 FROM public.registration_application a
                WHERE a.business_registration_number = p_brn AND a.status <> 'rejected')
        OR EXISTS (SELECT 1 FROM public.tenants_company c
                   WHERE c.business_registration_number = p_brn),
        EXISTS (SELECT 1 FROM public.registration_application a
                WHERE a.subdomain = p_subdomain AND a.status <> 'rejected')
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = p_schema)
        OR EXISTS (SELECT 1 FROM public.tenants_company c WHERE c.schema_name = p_schema)
        OR EXISTS (SELECT 1 FROM public.tenants_domain d WHERE d.domain = p_host)
$$;

-- Use the token whose SHA-256 the caller holds: 'verified', 'used', 'expired' or 'unknown'.
-- Verifying moves a submitted application to email_verified; a token works once.
CREATE OR REPLACE FUNCTION public.registration_consume_email_token(p_token_hash text)
RETURNS TABLE (outcome text, application uuid)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    tok record;
    moved integer;
BEGIN
    SELECT t.id, t.created_at, t.application_id, t.expires_at, t.used_at, t.status
      INTO tok
      FROM public.registration_emailverificationtoken t
     WHERE t.token_hash = p_token_hash
     FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown'::text, NULL::uuid;
        RETURN;
    END IF;
    IF tok.used_at IS NOT NULL OR tok.status <> 'pending' THEN
        RETURN QUERY SELECT (CASE WHEN tok.status = 'expired' THEN 'expired' ELSE 'used' END)::text,
                            tok.application_id;
        RETURN;
    END IF;
    IF tok.expires_at <= now() THEN
        UPDATE public.registration_emailverificationtoken t SET status = 'expired'
         WHERE t.id = tok.id AND t.created_at = tok.created_at;
        RETURN QUERY SELECT 'expired'::text, tok.application_id;
        RETURN;
    END IF;
    UPDATE public.registration_emailverificationtoken t SET used_at = now(), status = 'verified'
     WHERE t.id = tok.id AND t.created_at = tok.created_at;
    UPDATE public.registration_application a
       SET status = 'email_verified', email_verified_at = now()
     WHERE a.id = tok.application_id AND a.status = 'submitted';
    GET DIAGNOSTICS moved = ROW_COUNT;
    RETURN QUERY SELECT (CASE WHEN moved = 1 THEN 'verified' ELSE 'used' END)::text,
                        tok.application_id;
END
$$;

-- A new token for the application awaiting verification at this e-mail address,
-- unless p_limit tokens were issued in the last p_window_seconds.
-- Returns 'sent', 'rate_limited' or 'unknown', and the application's language.
CREATE OR REPLACE FUNCTION public.registration_issue_resend_token(
    p_email text, p_token_hash text, p_valid_seconds integer, p_window_seconds integer,
    p_limit integer)
RETURNS TABLE (outcome text, application uuid, language text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    app record;
    recent integer;
BEGIN
    SELECT a.id, a.language INTO app
      FROM public.registration_application a
     WHERE lower(a.contact_email) = lower(p_email) AND a.status = 'submitted'
     ORDER BY a.submitted_at DESC
     LIMIT 1
     FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown'::text, NULL::uuid, NULL::text;
        RETURN;
    END IF;
    SELECT count(*) INTO recent
      FROM public.registration_emailverificationtoken t
     WHERE t.application_id = app.id
       AND t.created_at > now() - make_interval(secs => p_window_seconds);
    IF recent >= p_limit THEN
        RETURN QUERY SELECT 'rate_limited'::text, app.id, app.language::text;
        RETURN;
    END IF;
    INSERT INTO public.registration_emailverificationtoken
        (id, created_at, application_id, token_hash, expires_at, status)
    VALUES (gen_random_uuid(), now(), app.id, p_token_hash,
            now() + make_interval(secs => p_valid_seconds), 'pending');
    RETURN QUERY SELECT 'sent'::text, app.id, app.language::text;
END
$$;
