DROP FUNCTION IF EXISTS public.registration_issue_resend_token(text, text, integer, integer, integer);
DROP FUNCTION IF EXISTS public.registration_consume_email_token(text);
DROP FUNCTION IF EXISTS public.registration_availability(text, text, text, text);
