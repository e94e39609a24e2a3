"""Declared triggers exist on their tables, are enabled and, declared whole, are as declared.

A trigger declared with its events and function body (``DatabaseTrigger``)
carries its hash in its comment (``qiro.db.declared``), checked like a
policy's: a changed trigger or function body is reported by name.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils.translation import gettext_noop as N_
from psycopg import sql

from deployments.verification.base import Check, Result, about, declared_of, declared_rows
from deployments.verification.policies import drift
from qiro.db.declared import TRIGGER_SHAPE
from qiro.db.objects import trigger_digest
from qiro.expectations import DatabaseTrigger
from qiro.stored_text import Message, said

QUERY = sql.SQL(
    """,
declared(scope, relname, tgname, digest) AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[])
)
SELECT s.nspname, d.relname, d.tgname, d.digest, t.tgenabled::text,
       md5({shape}), obj_description(t.oid, 'pg_trigger'), {shape}
FROM schemas s JOIN declared d ON d.scope = s.scope
LEFT JOIN pg_namespace n ON n.nspname = s.nspname
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = d.relname
LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND t.tgname = d.tgname AND NOT t.tgisinternal
"""
).format(shape=sql.SQL(TRIGGER_SHAPE))


class TriggersCheck(Check):
    name = "triggers"
    title = N_("Declared triggers")
    skip = N_("no triggers declared")

    def declared(self, verifier: Any) -> list[tuple[str, str, str, str]]:
        return [
            (scope, table, e.name, trigger_digest(e) if e.function_body else "")
            for scope, table, e in declared_of(DatabaseTrigger)
        ]

    def query(self, verifier: Any, declared: list[tuple[str, str, str, str]]) -> list[Any]:
        return declared_rows(verifier, QUERY, declared, 4)

    def findings(self, verifier: Any, declared: Any, rows: list[Any]) -> list[Result]:
        problems: dict[str, list[Message]] = defaultdict(list)
        for schema, table, name, digest, enabled, shape_md5, comment, shape in rows:
            wrong: Message | None
            if enabled is None:
                wrong = said(N_("missing"))
            elif enabled == "D":
                wrong = said(N_("disabled"))
            else:
                wrong = drift(digest, shape_md5, comment, shape) if digest else None
            if wrong:
                problems[schema].append(about(f"{table}.{name}", wrong))
        schemas = verifier.schemas_for(sorted({d[0] for d in declared}))
        names = sorted({f"{d[1]}.{d[2]}" for d in declared})
        expected = said(N_("%(triggers)s present, enabled"), triggers=names)
        return self.per_schema(schemas, problems, dict.fromkeys(schemas, expected))
