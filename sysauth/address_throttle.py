"""Failed sign-ins counted per address across every company and the platform admin.

Each company's ``LoginFailure`` rows stay in its schema, behind its row
policy; a password spray over many companies would never reach one
company's limit. So every failure with an address is also recorded in
``public.qiro_address_login_failure``, which no runtime role can read: the
two functions below record one and answer "is this address over the limit"
(limit and window from ``public.qiro_server_settings``), nothing else.
"""

from __future__ import annotations

from django.db import connections
from psycopg import sql

from qiro import tenant_context
from qiro.definer import DeclaredFunction

RECORD_FAILURE = DeclaredFunction(
    signature="qiro_record_login_failure(inet)",
    result="void",
    execute=("app", "platform"),
    body="""
BEGIN
    INSERT INTO public.qiro_address_login_failure (ip_address, failed_at)
    VALUES (p_ip, now());
END
""",
)
ADDRESS_THROTTLED = DeclaredFunction(
    signature="qiro_login_address_throttled(inet)",
    result="boolean",
    execute=("app", "platform"),
    body="""
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
""",
)
FORGET_OLD_FAILURES = DeclaredFunction(
    signature="qiro_forget_old_login_failures()",
    result="integer",
    execute=("platform",),
    body="""
DECLARE
    forgotten integer;
BEGIN
    DELETE FROM public.qiro_address_login_failure f
     WHERE f.failed_at <= now() - make_interval(secs => (
         SELECT s.login_failure_window FROM public.qiro_server_settings s));
    GET DIAGNOSTICS forgotten = ROW_COUNT;
    RETURN forgotten;
END
""",
)
THROTTLE_FUNCTIONS = (RECORD_FAILURE, ADDRESS_THROTTLED, FORGET_OLD_FAILURES)


def _call(function: DeclaredFunction, *params: str) -> object:
    statement = sql.SQL("SELECT {}({})").format(
        sql.Identifier("public", function.name), sql.SQL(", ").join(sql.Placeholder() * len(params))
    )
    with connections[tenant_context.current_alias()].cursor() as cursor:
        cursor.execute(statement, list(params))
        row = cursor.fetchone()
    return row[0] if row else None


def record_address_failure(*, ip_address: str) -> None:
    """One more failure from ``ip_address``, whichever company or admin it hit."""
    _call(RECORD_FAILURE, ip_address)


def address_is_throttled(*, ip_address: str) -> bool:
    """Whether ``ip_address`` failed too often lately, across all companies."""
    return bool(_call(ADDRESS_THROTTLED, ip_address))


def forget_old_address_failures() -> int:
    """Delete failures past the window (platform role: run by ``expire_sessions``)."""
    forgotten = _call(FORGET_OLD_FAILURES)
    return forgotten if isinstance(forgotten, int) else 0
