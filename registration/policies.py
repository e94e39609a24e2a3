"""Least privilege for the anonymous sign-up flow, declared once.

The sign-up pages run as the runtime role without company context
(``qiro.tenant_context.anonymous_context``). On the registration tables that
role may only INSERT a new application in status ``submitted`` with no review
data (``SIGNUP_POLICIES``). It can read, change or delete nothing there, and
cannot write a token at all: the SECURITY DEFINER functions of
``SIGNUP_FUNCTIONS`` each do one thing, with limits, lifetimes and the token
key from ``public.qiro_server_settings`` (written by the owner), never from
their caller:

* ``registration_availability``        is this BRN / sub-domain already taken?
* ``registration_issue_first_token``   the first token of the application just inserted;
* ``registration_issue_resend_token``  a new token for my e-mail, rate limited;
* ``registration_consume_email_token`` use the token whose secret I hold.

The three that change something write the step's audit row themselves
(``registration_record_signup_step``, owner only), in their transaction.

A token's secret is ``sha256(key || nonce)``: the function makes the nonce and
stores only ``sha256(secret)``; the caller gets the nonce, which is worthless
without the key derived from SECRET_KEY (``qiro.server_settings``). So SQL run
as the runtime role can neither choose a token nor use one it had issued.

The platform role (staff on the public host) reads and decides through its
own policy. The owner (provisioning) bypasses row security. Migrations hold
frozen copies of this SQL; verification (``deployments.verification``)
compares the live catalogs with these declarations, expressions as
PostgreSQL prints them (``pg_get_expr``).
"""

from __future__ import annotations

from qiro.db.declared import DeclaredPolicy
from qiro.definer import DeclaredFunction

PLATFORM_POLICY = "registration_platform_access"
SIGNUP_POLICY = "registration_signup_insert"
REGISTRATION_TABLES = (
    "registration_application",
    "registration_emailverificationtoken",
    "registration_reviewevent",
)


APPLICATION_INSERT_CHECK = (
    "((status = 'submitted'::application_status) AND (reviewed_by_id IS NULL) "
    "AND (decided_at IS NULL) AND (email_verified_at IS NULL) AND (company_id IS NULL) "
    "AND (rejection_reason = ''::text))"
)
SIGNUP_POLICIES = (
    *(
        DeclaredPolicy(t, PLATFORM_POLICY, "ALL", "platform", "true", "true")
        for t in REGISTRATION_TABLES
    ),
    DeclaredPolicy(
        "registration_application", SIGNUP_POLICY, "INSERT", "app", None, APPLICATION_INSERT_CHECK
    ),
)

AVAILABILITY = DeclaredFunction(
    signature="registration_availability(text, text, text, text)",
    result="TABLE(brn_taken boolean, subdomain_taken boolean)",
    execute=("app",),
    body="""
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
""",
)
# Owner-only helper of the two issuing functions: one place makes a token.
INSERT_EMAIL_TOKEN = DeclaredFunction(
    signature="registration_insert_email_token(uuid)",
    result="text",
    security_definer=False,
    body="""
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
""",
)
# Owner-only helper of the three functions below: the audit row of a sign-up step,
# written by the function that makes the change, in its transaction. Nobody acts
# yet (no acting user); the runtime role cannot write or forge such a row itself.
RECORD_SIGNUP_STEP = DeclaredFunction(
    signature="registration_record_signup_step(text, uuid, jsonb)",
    result="void",
    security_definer=False,
    body="""
BEGIN
    INSERT INTO public.sysauth_auditentry
        (company_id, created_at, acting_user_id, acting_email, action, target_type, target_id,
         target_label, outcome, details)
    SELECT NULL, now(), NULL, '', p_action, 'registration.application', a.id::text,
           left(a.company_name || ' (' || a.subdomain || ')', 200), 'done', p_details
      FROM public.registration_application a
     WHERE a.id = p_application;
END
""",
)
ISSUE_FIRST_TOKEN = DeclaredFunction(
    signature="registration_issue_first_token(uuid)",
    result="text",
    execute=("app",),
    body="""
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
""",
)
ISSUE_RESEND_TOKEN = DeclaredFunction(
    signature="registration_issue_resend_token(text)",
    result="TABLE(outcome text, language text, nonce text)",
    execute=("app",),
    body="""
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
""",
)
CONSUME_TOKEN = DeclaredFunction(
    signature="registration_consume_email_token(text)",
    result="text",
    execute=("app",),
    body="""
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
""",
)
SIGNUP_FUNCTIONS = (
    AVAILABILITY,
    INSERT_EMAIL_TOKEN,
    RECORD_SIGNUP_STEP,
    ISSUE_FIRST_TOKEN,
    ISSUE_RESEND_TOKEN,
    CONSUME_TOKEN,
)
