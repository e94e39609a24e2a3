"""Each ENUM type exists with exactly the values of its field's choices."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django.apps import apps
from django.utils.translation import gettext_noop as N_

from deployments.verification.base import Check, Result, about, scopes, with_schemas
from qiro.db.fields import EnumField
from qiro.stored_text import Message, said

QUERY = """,
declared AS (
    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS d(scope text, typname text, vals text[])
)
SELECT s.nspname, d.typname, d.vals,
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY 1),
       t.oid IS NOT NULL
FROM schemas s JOIN declared d ON d.scope = s.scope
LEFT JOIN pg_namespace n ON n.nspname = s.nspname
LEFT JOIN pg_type t ON t.typnamespace = n.oid AND t.typname = d.typname AND t.typtype = 'e'
WHERE t.oid IS NULL
   OR d.vals IS DISTINCT FROM ARRAY(SELECT e.enumlabel::text FROM pg_enum e
                                    WHERE e.enumtypid = t.oid ORDER BY 1)
"""


class EnumTypesCheck(Check):
    name = "enum_types"
    title = N_("ENUM types and their values")
    skip = N_("no ENUM fields declared")

    def declared(self, verifier: Any) -> dict[tuple[str, str], list[str]]:
        found: dict[tuple[str, str], list[str]] = {}
        for model in apps.get_models():
            for field in model._meta.get_fields():
                if isinstance(field, EnumField):
                    values = sorted(str(v) for v, _label in field.flatchoices)
                    for scope in scopes(model):
                        found[(scope, field.enum_type)] = values
        return found

    def query(self, verifier: Any, declared: dict[tuple[str, str], list[str]]) -> list[Any]:
        spec = json.dumps([{"scope": s, "typname": t, "vals": v} for (s, t), v in declared.items()])
        return verifier.rows(with_schemas(QUERY), [verifier.companies, spec])

    def findings(self, verifier: Any, declared: Any, rows: list[Any]) -> list[Result]:
        problems: dict[str, list[Message]] = defaultdict(list)
        for schema, typname, vals, found, exists in rows:
            problems[schema].append(
                about(typname, said(N_("type missing")))
                if not exists
                else about(typname, f"{found} ≠ {vals}")
            )
        expected = said(
            N_("types with their declared values: %(types)s"),
            types=sorted({t for _s, t in declared}),
        )
        schemas = verifier.schemas_for(sorted({s for s, _t in declared}))
        return self.per_schema(schemas, problems, dict.fromkeys(schemas, expected))
