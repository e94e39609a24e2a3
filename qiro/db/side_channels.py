"""Statistics that would tell one company about another, closed to the runtime roles.

Every company's requests run as the same runtime role. PostgreSQL shows a
role the query text of its own other sessions (``pg_stat_activity``,
``pg_stat_statements``, literals included), shows everyone the counters of
every table in every schema (``pg_stat_user_tables``, ``pg_statio_*``, the
``pg_stat_get_*()`` functions under them) and the locks of every session
(``pg_locks``). Row security does not reach any of these: they are the
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

from typing import Any

from psycopg import sql

# Whoever should keep reading statistics: pg_monitor includes it.
STATISTICS_READER = "pg_read_all_stats"
EXTENSIONS = ["pg_stat_statements"]

# No parameters are passed with these statements: `%` is PostgreSQL's format().
_VIEWS_SQL = """
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'pg_catalog' AND c.relkind = 'v'
  AND (c.relname ~ '^pg_stat(io)?_' OR c.relname = 'pg_locks')
UNION
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_depend d
JOIN pg_extension e ON e.oid = d.refobjid
JOIN pg_class c ON c.oid = d.objid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE d.refclassid = 'pg_extension'::regclass AND d.classid = 'pg_class'::regclass
  AND d.deptype = 'e' AND e.extname = ANY(ARRAY[{extensions}]) AND c.relkind = 'v'
ORDER BY 1
"""
_FUNCTIONS_SQL = """
SELECT format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)),
       p.proname ~ 'reset'
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'pg_catalog'
  AND (p.proname ~ '^pg_stat_get_' OR p.proname IN ('pg_stat_have_stats', 'pg_lock_status'))
UNION
SELECT format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)),
       p.proname ~ 'reset'
FROM pg_depend d
JOIN pg_extension e ON e.oid = d.refobjid
JOIN pg_proc p ON p.oid = d.objid
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE d.refclassid = 'pg_extension'::regclass AND d.classid = 'pg_proc'::regclass
  AND d.deptype = 'e' AND e.extname = ANY(ARRAY[{extensions}])
ORDER BY 1
"""


def _with_extensions(query: str) -> sql.Composed:
    return sql.SQL(query).format(
        extensions=sql.SQL(", ").join(sql.Literal(name) for name in EXTENSIONS)
    )


def statistics_objects(cursor: Any) -> tuple[list[str], list[tuple[str, bool]]]:
    """The views, and the functions (with "is a reset") that are closed, as qualified names."""
    cursor.execute(_with_extensions(_VIEWS_SQL))
    views = [row[0] for row in cursor.fetchall()]
    cursor.execute(_with_extensions(_FUNCTIONS_SQL))
    functions = [(row[0], bool(row[1])) for row in cursor.fetchall()]
    return views, functions


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
    views, functions = statistics_objects(cursor)
    grantees = sql.SQL(", ").join(
        [sql.SQL("PUBLIC"), *(sql.Identifier(role) for role in runtime_roles)]
    )
    reader = sql.Identifier(STATISTICS_READER)
    # Names come from the catalogs, quoted there by format('%I').
    view_list = sql.SQL(", ").join(sql.SQL(name) for name in views)
    readable = [name for name, is_reset in functions if not is_reset]
    if views:
        cursor.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(view_list, grantees))
        cursor.execute(sql.SQL("GRANT SELECT ON TABLE {} TO {}").format(view_list, reader))
    if functions:
        every = sql.SQL(", ").join(sql.SQL(name) for name, _ in functions)
        cursor.execute(sql.SQL("REVOKE ALL ON FUNCTION {} FROM {}").format(every, grantees))
    if readable:
        cursor.execute(
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
                sql.SQL(", ").join(sql.SQL(name) for name in readable), reader
            )
        )
    return None
