"""What a deploy must migrate: public, every company schema and the ready pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qiro.context import PUBLIC_SCHEMA
from qiro.migration_state import (
    Migration,
    MigrationState,
    company_schemas,
    expected_migrations,
    migration_state,
)
from tenants.schema_pool import COMMENT_PREFIX, POOL_SCHEMA_LIKE


@dataclass(frozen=True)
class DeployState:
    """What a deploy must migrate: public, the company schemas and the ready pool schemas."""

    public: MigrationState
    companies: MigrationState
    pool: MigrationState

    @property
    def behind(self) -> bool:
        return bool(self.public.outdated or self.companies.outdated or self.pool.outdated)

    @property
    def outdated_schemas(self) -> dict[str, frozenset[Migration]]:
        """Pool schemas first (a canary that holds no company's rows), then companies."""
        return {**self.pool.outdated, **self.companies.outdated}

    @property
    def schema_count(self) -> int:
        return (
            1
            + len(self.companies.up_to_date)
            + len(self.companies.outdated)
            + len(self.pool.up_to_date)
            + len(self.pool.outdated)
        )


def ready_pool_schemas(cursor: Any) -> list[str]:
    """Pool schemas marked ready (with any migrations), not those still being built."""
    cursor.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s "
        "AND starts_with(coalesce(obj_description(oid, 'pg_namespace'), ''), %s) ORDER BY 1",
        [POOL_SCHEMA_LIKE, COMMENT_PREFIX],
    )
    return [row[0] for row in cursor.fetchall()]


def deploy_state(cursor: Any) -> DeployState:
    """Public, every company schema and the ready pool, in three set-based reads (owner)."""
    expected = expected_migrations()
    return DeployState(
        public=migration_state(cursor, [PUBLIC_SCHEMA], expected),
        companies=migration_state(cursor, company_schemas(cursor), expected),
        pool=migration_state(cursor, ready_pool_schemas(cursor), expected),
    )
