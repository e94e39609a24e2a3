"""The tenant context's connection state: which alias the ORM uses, which context each holds.

The one module that holds the connection state: which alias the ORM uses
(read by ``qiro.routers``) and which ``qiro.context.TenantContext`` each
runtime connection carries (``qiro.db.backends.runtime`` turns it into
``SET LOCAL`` statements per transaction). Requests enter it through
``qiro.middleware``; tasks and commands through the context managers here.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from contextlib import AbstractContextManager as ContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, cast

from django.db import connections

from qiro.context import NO_CONTEXT, TenantContext

if TYPE_CHECKING:
    from django_tenants.models import TenantMixin

    from qiro.db.backends.runtime.base import DatabaseWrapper as RuntimeWrapper

RUNTIME_ALIAS = "default"
PLATFORM_ALIAS = "platform"
OWNER_ALIAS = "owner"

# Which alias the ORM uses for this request or task (read by qiro.routers).
_current_alias: contextvars.ContextVar[str] = contextvars.ContextVar(
    "qiro_db_alias", default=RUNTIME_ALIAS
)


def current_alias() -> str:
    return _current_alias.get()


def runtime_connection(alias: str) -> RuntimeWrapper:
    """This thread's connection of a runtime alias (``default`` or ``platform``)."""
    return cast("RuntimeWrapper", connections[alias])


def current_context() -> TenantContext:
    return runtime_connection(current_alias()).tenant_context


def activate(context: TenantContext, alias: str) -> None:
    _current_alias.set(alias)
    for name in (RUNTIME_ALIAS, PLATFORM_ALIAS):
        runtime_connection(name).set_tenant_context(context if name == alias else NO_CONTEXT)


def clear() -> None:
    """Back to no context on every runtime connection of this thread."""
    activate(NO_CONTEXT, RUNTIME_ALIAS)


def set_actor(actor_id: int | None) -> None:
    """Record who acts (read by the permission-history trigger)."""
    connection = runtime_connection(current_alias())
    connection.set_tenant_context(replace(connection.tenant_context, actor_id=actor_id))


def context_for(company: TenantMixin, actor_id: int | None = None) -> TenantContext:
    return TenantContext(schema_name=company.schema_name, company_id=company.pk, actor_id=actor_id)


@contextlib.contextmanager
def _switched(context: TenantContext, alias: str) -> Iterator[None]:
    """Run the body with ``context`` on ``alias``; the previous state comes back after."""
    previous = (current_alias(), current_context())
    activate(context, alias)
    try:
        yield
    finally:
        activate(previous[1], previous[0])


def company_context(company: TenantMixin, *, actor_id: int | None = None) -> ContextManager[None]:
    """Run the body as the runtime role inside ``company``'s context (tasks, commands)."""
    return _switched(context_for(company, actor_id), RUNTIME_ALIAS)


def platform_context() -> ContextManager[None]:
    """Run the body as the platform role, without company context."""
    return _switched(NO_CONTEXT, PLATFORM_ALIAS)


def anonymous_context() -> ContextManager[None]:
    """Run the body as the runtime role without any company (anonymous public pages).

    For visitors of the public host who are not platform staff (sign-up): the
    runtime role's rights on public tables are narrower than the platform role's.
    """
    return _switched(NO_CONTEXT, RUNTIME_ALIAS)


@contextlib.contextmanager
def owner_context() -> Iterator[None]:
    """Send the ORM to the owner's connection (provisioning, maintenance; never requests).

    The owner bypasses row-level security: only services that create or
    repair schemas use this.
    """
    token = _current_alias.set(OWNER_ALIAS)
    try:
        yield
    finally:
        _current_alias.reset(token)
