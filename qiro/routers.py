"""Send the ORM to the database role the current request or task runs as."""

from __future__ import annotations

from typing import Any

from qiro.tenant_context import current_alias

SAME_DATABASE_ALIASES = frozenset({"default", "platform", "owner"})


class RequestRoleRouter:
    """Reads and writes go to the alias chosen by ``qiro.tenant_context``.

    The three aliases reach one database with different logins, so relations
    between objects loaded through any of them are allowed. Migrations are
    left to django-tenants' router (owner alias only).
    """

    def db_for_read(self, model: type[Any], **hints: Any) -> str:
        return _migration_alias(model) or _instance_alias(hints) or current_alias()

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        return _migration_alias(model) or _instance_alias(hints) or current_alias()

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        if {obj1._state.db, obj2._state.db} <= SAME_DATABASE_ALIASES:
            return True
        return None


def _migration_alias(model: type[Any]) -> str | None:
    """Data migrations query through historical models (module ``__fake__``).

    Some (third-party ones among them) do so without ``using``: they must run
    as the owner who migrates, never as the runtime role, which has no rights
    there and would wait on the migration's own locks.
    """
    return "owner" if model.__module__ == "__fake__" else None


def _instance_alias(hints: dict[str, Any]) -> str | None:
    """Related lookups stay on the alias their instance came from (e.g. the owner's)."""
    instance = hints.get("instance")
    return getattr(getattr(instance, "_state", None), "db", None)
