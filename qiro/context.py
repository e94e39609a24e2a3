"""The tenant context as a value: which schema and company a transaction acts for, and who acts.

A frozen value, checked when made: a company context has both its schema and
its id, the public one has neither. ``qiro.tenant_context`` hands it to the
runtime connections; ``qiro.db.backends.runtime`` turns it into ``SET LOCAL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PUBLIC_SCHEMA = "public"

SCHEMA_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class TenantContext:
    schema_name: str
    company_id: int | None
    actor_id: int | None = None

    def __post_init__(self) -> None:
        if not SCHEMA_NAME_RE.fullmatch(self.schema_name) or self.schema_name.startswith("pg_"):
            raise ValueError(f"not a valid company schema name: {self.schema_name!r}")
        if (self.company_id is None) != (self.schema_name == PUBLIC_SCHEMA):
            raise ValueError("a company context needs both its schema and its id")


NO_CONTEXT = TenantContext(schema_name=PUBLIC_SCHEMA, company_id=None)
