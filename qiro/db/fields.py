"""Model fields for PostgreSQL types Django does not have."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper


class EnumField(models.CharField):
    """A column of a PostgreSQL ENUM type, mirrored by ``TextChoices``.

    The type itself is created by ``qiro.db.operations.CreateEnumType`` in the
    same migration, in the schema being migrated; the column names it
    unqualified, so each company schema uses its own copy of the type.
    """

    def __init__(self, *args: Any, enum_type: str, **kwargs: Any) -> None:
        self.enum_type = enum_type
        kwargs.setdefault("max_length", 32)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["enum_type"] = self.enum_type
        return name, path, args, kwargs

    def db_type(self, connection: BaseDatabaseWrapper) -> str:
        return self.enum_type

    def cast_db_type(self, connection: BaseDatabaseWrapper) -> str:
        return self.enum_type
