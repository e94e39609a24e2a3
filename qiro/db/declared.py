"""Shapes and hashes of declared database objects, and the comments that carry them.

An installed policy or trigger carries ``COMMENT ON … IS
'qiro:<declared>:<installed>'``: the MD5 of its declaration and the MD5 of its
shape as the catalogs print it right after it was installed. Verification
reads both in one query per kind (``deployments.verification``): a
declaration changed since the object was installed shows in the first part, a
hand-made change of the object in the second. Like django-pgtrigger's hash,
with the catalogs' own print as the second witness.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from psycopg import sql

from qiro.context import PUBLIC_SCHEMA

COMPANY = "company"
COMMENT_PREFIX = "qiro:"

# The shape of one policy ``p`` (pg_policy) as the catalogs print it.
POLICY_SHAPE = r"""regexp_replace(concat_ws(' ', p.polcmd::text, p.polpermissive::text,
    (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END, ','
                       ORDER BY 1) FROM unnest(p.polroles) r),
    'USING', coalesce(pg_get_expr(p.polqual, p.polrelid), '-'),
    'CHECK', coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-')), '\s+', ' ', 'g')"""
# The shape of one trigger ``t`` on a table of schema ``n``, with its function's body.
TRIGGER_SHAPE = """replace(pg_get_triggerdef(t.oid), quote_ident(n.nspname) || '.', '')
    || ' ' || t.tgenabled::text || ' '
    || (SELECT tf.prosrc FROM pg_proc tf WHERE tf.oid = t.tgfoid)"""


def normal(text: str | None) -> str:
    return " ".join((text or "").split())


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class DeclaredPolicy:
    """A row policy; ``role`` is a runtime role kind (``app``, ``platform``) or ``public``.

    ``using`` and ``check`` are SQL (``None``: no such clause); the sign-up's
    are written as ``pg_get_expr`` prints them. ``scope`` is where the table
    lives: ``public``, or ``company`` for every company schema.
    """

    table: str
    name: str
    command: str
    role: str
    using: str | None
    check: str | None
    scope: str = PUBLIC_SCHEMA

    @property
    def label(self) -> str:
        return f"{self.table}.{self.name}"

    @property
    def digest(self) -> str:
        return md5(normal(f"{self.command} TO {self.role} USING {self.using} CHECK {self.check}"))


def comment_value(digest: str) -> str:
    """The start of a comment that says: installed from the declaration of this digest."""
    return f"{COMMENT_PREFIX}{digest}:"


def _comment_block(comment_on: sql.Composed, shape: sql.Composed, digest: str) -> sql.Composed:
    """One statement that comments an object with its digest and its shape read just now."""
    return sql.SQL("DO $qiro$ BEGIN EXECUTE {} || quote_literal({} || ({})); END $qiro$").format(
        sql.Literal(comment_on.as_string(None)), sql.Literal(comment_value(digest)), shape
    )


def policy_comment(*, schema: str | None, table: str, name: str, digest: str) -> sql.Composed:
    """``COMMENT ON POLICY`` with the declaration's digest and the installed shape's.

    A DO block, so the shape is read from the catalogs in the statement (and
    batch) that follows the policy's creation. ``schema`` None: the search_path's.
    """
    target = sql.Identifier(schema, table) if schema else sql.Identifier(table)
    return _comment_block(
        sql.SQL("COMMENT ON POLICY {} ON {} IS ").format(sql.Identifier(name), target),
        sql.SQL(
            "SELECT md5({}) FROM pg_policy p WHERE p.polrelid = {}::regclass AND p.polname = {}"
        ).format(sql.SQL(POLICY_SHAPE), sql.Literal(target.as_string(None)), sql.Literal(name)),
        digest,
    )


def trigger_comment(*, schema: str, table: str, name: str, digest: str) -> sql.Composed:
    """``COMMENT ON TRIGGER`` with the declaration's digest and the installed shape's."""
    target = sql.Identifier(schema, table)
    return _comment_block(
        sql.SQL("COMMENT ON TRIGGER {} ON {} IS ").format(sql.Identifier(name), target),
        sql.SQL(
            "SELECT md5({}) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE t.tgrelid = {}::regclass AND t.tgname = {}"
        ).format(sql.SQL(TRIGGER_SHAPE), sql.Literal(target.as_string(None)), sql.Literal(name)),
        digest,
    )
