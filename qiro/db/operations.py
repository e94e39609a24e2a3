"""Reversible raw-SQL migration operations with deterministic names."""

from __future__ import annotations

from django.db import migrations
from psycopg import sql


def _render(statement: sql.Composable) -> str:
    # Identifiers and literals only, so no connection is needed to quote them.
    return statement.as_string(None)


class CreateEnumType(migrations.RunSQL):
    """``CREATE TYPE name AS ENUM (...)`` in the schema being migrated."""

    def __init__(self, name: str, values: list[str]):
        self.enum_name = name
        self.values = list(values)
        super().__init__(
            sql=_render(
                sql.SQL("CREATE TYPE {} AS ENUM ({})").format(
                    sql.Identifier(name), sql.SQL(", ").join(sql.Literal(v) for v in values)
                )
            ),
            reverse_sql=_render(sql.SQL("DROP TYPE IF EXISTS {}").format(sql.Identifier(name))),
        )

    def deconstruct(self) -> tuple[str, list[object], dict[str, object]]:
        return (
            "qiro.db.operations.CreateEnumType",
            [],
            {"name": self.enum_name, "values": self.values},
        )

    def describe(self) -> str:
        return f"Create ENUM type {self.enum_name}"
