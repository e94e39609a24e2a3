"""Declared indexes and constraints exist; none is left invalid or unvalidated anywhere.

One check written once for both kinds (``IndexesCheck``, ``ConstraintsCheck``):
a unique constraint is (with a condition: is only) an index of its name, so
the index check covers it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, ClassVar

from django.apps import apps
from django.db import models
from django.utils.translation import gettext_noop as N_

from deployments.verification.base import Check, Result, about, declared_rows, scopes, word
from qiro.stored_text import Message, said

QUERY = """,
declared(scope, relname, objname) AS (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]))
SELECT s.nspname, d.objname, 'missing' FROM schemas s
JOIN declared d ON d.scope = s.scope
WHERE NOT EXISTS ({present})
UNION ALL
{broken}
"""
INDEX_PRESENT = """
    SELECT 1 FROM pg_class i JOIN pg_namespace n ON n.oid = i.relnamespace
    WHERE n.nspname = s.nspname AND i.relname = d.objname AND i.relkind IN ('i', 'I')"""
INDEX_BROKEN = """
SELECT n.nspname, i.relname, 'invalid' FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = i.relnamespace
JOIN schemas s ON s.nspname = n.nspname
WHERE NOT x.indisvalid OR NOT x.indisready"""
CONSTRAINT_PRESENT = """
    SELECT 1 FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
    WHERE n.nspname = s.nspname AND k.conname = d.objname"""
CONSTRAINT_BROKEN = """
SELECT n.nspname, k.conname, 'not validated' FROM pg_constraint k
JOIN pg_namespace n ON n.oid = k.connamespace
JOIN schemas s ON s.nspname = n.nspname
WHERE NOT k.convalidated"""


def declared_names(kind: str) -> list[tuple[str, str, str]]:
    """(scope, table, name) of ``Meta.indexes`` (and unique constraints) or ``Meta.constraints``."""
    found: list[tuple[str, str, str]] = []
    for model in apps.get_models():
        if not model._meta.managed:
            continue
        unique = [c for c in model._meta.constraints if isinstance(c, models.UniqueConstraint)]
        items: list[Any] = (
            [*model._meta.indexes, *unique]
            if kind == "index"
            else [c for c in model._meta.constraints if c not in unique]
        )
        for item in items:
            if item.name:
                found += [(scope, model._meta.db_table, item.name) for scope in scopes(model)]
    return found


class DeclaredNamesCheck(Check):
    kind: ClassVar[str]
    summary: ClassVar[str]  # a message with %(count)d
    present: ClassVar[str]
    broken: ClassVar[str]

    def declared(self, verifier: Any) -> list[tuple[str, str, str]]:
        return declared_names(self.kind)

    def query(self, verifier: Any, declared: list[tuple[str, str, str]]) -> list[Any]:
        body = QUERY.format(present=self.present, broken=self.broken)
        return declared_rows(verifier, body, declared, 3)

    def expected(self, verifier: Any, declared: list[tuple[str, str, str]]) -> dict[str, Message]:
        """What each schema holds: ``summary`` with the count of what is declared there."""
        counts: dict[str, int] = defaultdict(int)
        for scope, _table, _name in declared:
            for schema in verifier.schemas_for([scope]):
                counts[schema] += 1
        return {s: said(self.summary, count=counts[s]) for s in verifier.all_schemas}

    def findings(self, verifier: Any, declared: Any, rows: list[Any]) -> list[Result]:
        problems: dict[str, list[Message]] = defaultdict(list)
        for schema, name, what in rows:
            problems[schema].append(about(name, word(what)))
        return self.per_schema(verifier.all_schemas, problems, self.expected(verifier, declared))


class IndexesCheck(DeclaredNamesCheck):
    name, kind, summary = "indexes", "index", N_("%(count)d declared indexes present; all valid")
    title = N_("Declared indexes")
    present, broken = INDEX_PRESENT, INDEX_BROKEN


class ConstraintsCheck(DeclaredNamesCheck):
    name, kind = "constraints", "constraint"
    summary = N_("%(count)d declared constraints present and validated")
    title = N_("Declared constraints")
    present, broken = CONSTRAINT_PRESENT, CONSTRAINT_BROKEN
