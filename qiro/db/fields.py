"""Model fields for PostgreSQL types Django does not have."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper


class EnumField(models.CharField):
    """A column of a PostgreSQL ENUM type, mirrored by ``TextChoices``.

    The type itself is created by ``qiro.db.operations.CreateEnumType`` in the
    same migration, in the schema being migrated; the column names it
    unqualified, so each company schema uses its own copy of the type.

    A value outside the choices is refused before it reaches PostgreSQL, which
    would answer it with an error (``invalid input value for enum``): a lookup
    such as an admin filter's ``?status__exact=bogus`` raises ``ValidationError``
    when the queryset is filtered, which the admin turns into its usual
    "invalid lookup" answer, and a save raises it instead of a database error.
    Pattern lookups (``contains``, ``regex``…) compare the value as text and
    are not checked.
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

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or not self.choices:
            return value
        if value not in {str(choice) for choice, _label in self.flatchoices}:
            raise ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )
        return value
