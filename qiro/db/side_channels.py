"""Statistics that would tell one company about another, closed to the runtime roles.

Every company's requests run as the same runtime role. PostgreSQL shows a
role the query text of its own other sessions (``pg_stat_activity``,
``pg_stat_statements``, literals included), shows everyone the counters of
every table in every schema (``pg_stat_user_tables``, ``pg_statio_*``, the
``pg_stat_get_*()`` functions under them) and the locks of every session
(``pg_locks``), and lets a role cancel or end its own other sessions
(``pg_cancel_backend``, ``pg_terminate_backend``): one company's request could
stop another's. Row security does not reach any of these: they are the
server's own bookkeeping.

Their privileges are per database, so in the application's database they are
revoked from PUBLIC and from the runtime roles (``apply_public_grants`` hands
the platform role every relation of ``public``, ``pg_stat_statements``'
views included), and granted to ``pg_read_all_stats``, so the owner (a
superuser) and monitoring roles (members of ``pg_monitor``) keep them. Only a
superuser may change privileges on PostgreSQL's own objects; otherwise
nothing is changed and the reason is returned for ``bootstrap`` to print.
Idempotent: re-run after ``CREATE EXTENSION`` or ``ALTER EXTENSION … UPDATE``
(``bootstrap`` does, every start).

What cannot be closed this way (``pg_class.reltuples``, sizes, timing) is in
the README, "What the walls stop, and what they do not".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

# Whoever should keep reading statistics: pg_monitor includes it.
STATISTICS_READER = "pg_read_all_stats"
EXTENSIONS = ["pg_stat_statements"]

# One row per view or function that is closed: (kind, name, stays closed to the
# reader too — the resets and the signals —, still open).
# The name prefixes and the namespace let pg_class's and pg_proc's name indexes
# answer, however many company schemas there are. No parameters are passed
# with it: `%` is PostgreSQL's format().
_OBJECTS_SQL = """
WITH extension_objects AS (
    SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
      AND e.extname = ANY(ARRAY[{extensions}]::text[])
),
objects AS (
    SELECT 'view' AS kind, format('%I.%I', n.nspname, c.relname) AS name, false AS is_reset,
           coalesce(c.relacl, acldefault('r', c.relowner)) AS acl, 'SELECT' AS reading
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'v'
      AND (c.relname ~ '^pg_stat(io)?_' OR c.relname = 'pg_locks')
    UNION ALL
    SELECT 'view', format('%I.%I', n.nspname, c.relname), false,
           coalesce(c.relacl, acldefault('r', c.relowner)), 'SELECT'
    FROM extension_objects x JOIN pg_class c ON c.oid = x.objid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE x.classid = 'pg_class'::regclass AND c.relkind = 'v'
    UNION ALL
    SELECT 'function', format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)),
           p.proname ~ 'reset' OR p.proname IN ('pg_cancel_backend', 'pg_terminate_backend'),
           coalesce(p.proacl, acldefault('f', p.proowner)), 'EXECUTE'
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.pronamespace = 'pg_catalog'::regnamespace
      AND (p.proname ~ '^pg_stat_get_'
           OR p.proname IN ('pg_stat_have_stats', 'pg_lock_status',
                            'pg_cancel_backend', 'pg_terminate_backend'))
    UNION ALL
    SELECT 'function', format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)),
           p.proname ~ 'reset', coalesce(p.proacl, acldefault('f', p.proowner)), 'EXECUTE'
    FROM extension_objects x JOIN pg_proc p ON p.oid = x.objid
    JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE x.classid = 'pg_proc'::regclass
),
closed_to AS (
    SELECT 0::oid AS oid  -- PUBLIC
    UNION ALL SELECT oid FROM pg_roles WHERE rolname = ANY(ARRAY[{roles}]::text[])
)
SELECT o.kind, o.name, o.is_reset,
       EXISTS (SELECT 1 FROM aclexplode(o.acl) a WHERE a.grantee IN (SELECT oid FROM closed_to))
       OR (NOT o.is_reset AND NOT EXISTS (
           SELECT 1 FROM aclexplode(o.acl) a
           WHERE a.grantee = to_regrole({reader}) AND a.privilege_type = o.reading))
FROM objects o
ORDER BY 1, 2
"""


@dataclass(frozen=True)
class StatisticsObject:
    kind: str  # "view" or "function"
    name: str  # qualified, quoted by the catalogs' format('%I')
    is_reset: bool  # resets and signals stay closed to the reader too
    still_open: bool  # readable by PUBLIC or a runtime role, or not yet by the reader


def statistics_objects(cursor: Any, runtime_roles: list[str]) -> list[StatisticsObject]:
    """The views and functions that are closed, and which of them still need it."""
    cursor.execute(
        sql.SQL(_OBJECTS_SQL).format(
            extensions=sql.SQL(", ").join(sql.Literal(name) for name in EXTENSIONS),
            roles=sql.SQL(", ").join(sql.Literal(name) for name in runtime_roles),
            reader=sql.Literal(STATISTICS_READER),
        )
    )
    return [StatisticsObject(*row) for row in cursor.fetchall()]


def close_statistics_side_channels(cursor: Any, runtime_roles: list[str]) -> str | None:
    """Revoke the cross-session statistics from PUBLIC and the runtime roles.

    Returns None when done, or why nothing could be done (the owner is not a
    superuser), with what a DBA can do about it.
    """
    cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
    owner, superuser = cursor.fetchone()
    if not superuser:
        return (
            f"Statistics side channels left open: the owner {owner!r} is not a superuser, so it "
            "may not change privileges on PostgreSQL's statistics views and functions. The "
            "runtime roles can read the query text of one another's sessions (pg_stat_activity, "
            "pg_stat_statements) and the row counters of every company's tables "
            "(pg_stat_user_tables). Run `manage.py bootstrap` once as a superuser (DATABASE_URL) "
            "to close them."
        )
    pending = [o for o in statistics_objects(cursor, runtime_roles) if o.still_open]
    grantees = sql.SQL(", ").join(
        [sql.SQL("PUBLIC"), *(sql.Identifier(role) for role in runtime_roles)]
    )
    reader = sql.Identifier(STATISTICS_READER)
    for kind, revoke, grant in (
        ("view", "REVOKE ALL ON TABLE {} FROM {}", "GRANT SELECT ON TABLE {} TO {}"),
        ("function", "REVOKE ALL ON FUNCTION {} FROM {}", "GRANT EXECUTE ON FUNCTION {} TO {}"),
    ):
        # Only what is still open: a second run changes no catalog row.
        names = [o.name for o in pending if o.kind == kind]
        readable = [o.name for o in pending if o.kind == kind and not o.is_reset]
        if names:
            cursor.execute(sql.SQL(revoke).format(_names(names), grantees))
        if readable:
            cursor.execute(sql.SQL(grant).format(_names(readable), reader))
    return None


def _names(names: list[str]) -> sql.Composable:
    # Quoted by the catalogs' format('%I'), not input.
    return sql.SQL(", ").join(sql.SQL(name) for name in names)
