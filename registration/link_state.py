"""What a verification link would do, asked without using it.

Mail scanners and link previews open links: a GET must never consume a
token. ``registration_email_link_state(secret)`` lets the link's page say,
before anything is pressed, whether the link is ``pending`` (pressing it
confirms the address), ``used``, ``expired`` or ``unknown``. It only reads:
no row is locked or changed. For a pending link it also names the company the
address is confirmed for, which the holder of the secret already knows from
the e-mail; for any other state it names nothing, so guessing secrets teaches
nothing about anyone's application.

Declared here, installed by migration ``0005`` (a frozen copy) and compared
with the catalogs by verification (``deployments.verification``).
"""

from __future__ import annotations

from django.db import connections, transaction

from qiro.definer import DeclaredFunction
from qiro.tenant_context import RUNTIME_ALIAS, anonymous_context

LINK_STATE = DeclaredFunction(
    signature="registration_email_link_state(text)",
    result="TABLE(state text, company_name text)",
    execute=("app",),
    body="""
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
""",
)

LINK_FUNCTIONS = (LINK_STATE,)


def link_state(*, token: str) -> tuple[str, str]:
    """``(state, company name)`` of the link whose secret is ``token``; changes nothing.

    The name is empty unless the state is ``pending``.
    """
    with (
        anonymous_context(),
        transaction.atomic(using=RUNTIME_ALIAS),
        connections[RUNTIME_ALIAS].cursor() as cursor,
    ):
        # As in ``services.verify_email``: text with NUL cannot be sent to the database.
        cursor.execute(
            "SELECT state, company_name FROM registration_email_link_state(%s)",
            [token.replace("\x00", "")[:200]],
        )
        row = cursor.fetchone()
    return (str(row[0]), row[1] or "") if row else ("unknown", "")
