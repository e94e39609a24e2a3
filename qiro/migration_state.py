"""Which schemas lack a migration the code has, found set-based (no query per schema).

``migrate_schemas`` with nothing to do still costs about 0.15 s per schema
(migration graph, signals, grants), so ``bootstrap`` asks this module first
and migrates only the schemas that need it. Deployments can do the same.

A schema is up to date when its ``django_migrations`` table records every
migration of the code's migration graph. That is every installed app's, not
only the company apps': ``migrate_schemas`` records the shared apps'
migrations in company schemas too (their operations are routed away), and the
verification and ``/health/ready/`` expect them there. A schema without a
``django_migrations`` table (or without the schema itself) lacks them all.

Cost, whatever the number of schemas: the company list, one catalog query for
the ``django_migrations`` tables present, then one ``UNION ALL`` over those
tables per ``BATCH`` schemas (one statement up to 1,000 companies). Each
statement holds its tables' locks only while it runs, so the lock table
never has to hold every company's at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.migrations.loader import MigrationLoader
from psycopg import sql

from qiro.context import PUBLIC_SCHEMA
from qiro.db.catalog import schemas_with_table

MIGRATIONS_TABLE = "django_migrations"
BATCH = 1000  # schemas per statement: bounds the locks one statement holds

Migration = tuple[str, str]  # (app label, migration name)


@dataclass(frozen=True)
class MigrationState:
    """Schemas split into up to date and outdated (with what each lacks)."""

    up_to_date: list[str] = field(default_factory=list)
    outdated: dict[str, frozenset[Migration]] = field(default_factory=dict)
    no_table: list[str] = field(default_factory=list)  # outdated for want of django_migrations


def expected_migrations() -> frozenset[Migration]:
    """Every migration in the code's migration graph (squashed ones as such)."""
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def company_schemas(cursor: Any) -> list[str]:
    """Schema names of every company (``public`` excluded); needs the owner, who bypasses RLS."""
    from django_tenants.utils import get_tenant_model

    cursor.execute(
        sql.SQL("SELECT schema_name FROM {} WHERE schema_name <> %s ORDER BY 1").format(
            sql.Identifier(PUBLIC_SCHEMA, get_tenant_model()._meta.db_table)
        ),
        [PUBLIC_SCHEMA],
    )
    return [row[0] for row in cursor.fetchall()]


def migration_state(
    cursor: Any, schemas: Sequence[str], expected: frozenset[Migration] | None = None
) -> MigrationState:
    """Which of ``schemas`` record every ``expected`` migration (default: the code's)."""
    expected = expected_migrations() if expected is None else expected
    schemas = sorted(set(schemas))
    with_table = set(schemas_with_table(cursor, schemas, MIGRATIONS_TABLE))
    no_table = [s for s in schemas if s not in with_table]
    outdated = dict.fromkeys(no_table, expected)
    present = [s for s in schemas if s in with_table]
    if expected:
        apps, names = zip(*sorted(expected), strict=True)
        for start in range(0, len(present), BATCH):
            chunk = present[start : start + BATCH]
            applied = sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT {}::text AS nspname, app, name FROM {}").format(
                    sql.Literal(s), sql.Identifier(s, MIGRATIONS_TABLE)
                )
                for s in chunk
            )
            cursor.execute(
                sql.SQL(
                    "WITH expected(app, name) AS (SELECT * FROM unnest(%s::text[], %s::text[])), "
                    "applied AS ({}) "
                    "SELECT s.nspname, array_agg(e.app), array_agg(e.name) "
                    "FROM unnest(%s::text[]) s(nspname) CROSS JOIN expected e "
                    "WHERE NOT EXISTS (SELECT 1 FROM applied a WHERE a.nspname = s.nspname "
                    "                  AND a.app = e.app AND a.name = e.name) "
                    "GROUP BY 1"
                ).format(applied),
                [list(apps), list(names), chunk],
            )
            for schema, missing_apps, missing_names in cursor.fetchall():
                outdated[schema] = frozenset(zip(missing_apps, missing_names, strict=True))
    return MigrationState(
        up_to_date=[s for s in schemas if s not in outdated],
        outdated=dict(sorted(outdated.items())),
        no_table=no_table,
    )


def company_migration_state(cursor: Any) -> MigrationState:
    """Every company schema, up to date or outdated (owner's cursor)."""
    return migration_state(cursor, company_schemas(cursor))
