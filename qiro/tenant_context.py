"""The tenant context: which company a request or task acts for, and who acts.

The one module that decides the context. It hands it to the runtime
connections (``qiro.db.backends.runtime`` turns it into ``SET LOCAL``
statements per transaction) and picks the database role a request runs as
(``qiro.routers``). A request's context is cleared when its response is done,
whatever happened.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import set_urlconf

if TYPE_CHECKING:
    from qiro.db.backends.runtime.base import DatabaseWrapper as RuntimeWrapper
    from tenants.models import Company

RUNTIME_ALIAS = "default"
PLATFORM_ALIAS = "platform"
OWNER_ALIAS = "owner"
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


def _activate(context: TenantContext, alias: str) -> None:
    _current_alias.set(alias)
    for name in (RUNTIME_ALIAS, PLATFORM_ALIAS):
        runtime_connection(name).set_tenant_context(context if name == alias else NO_CONTEXT)


def clear() -> None:
    """Back to no context on every runtime connection of this thread."""
    _activate(NO_CONTEXT, RUNTIME_ALIAS)


def set_actor(actor_id: int | None) -> None:
    """Record who acts (read by the permission-history trigger)."""
    connection = runtime_connection(current_alias())
    connection.set_tenant_context(replace(connection.tenant_context, actor_id=actor_id))


def context_for(company: Company, actor_id: int | None = None) -> TenantContext:
    return TenantContext(schema_name=company.schema_name, company_id=company.pk, actor_id=actor_id)


@contextlib.contextmanager
def company_context(company: Company, *, actor_id: int | None = None) -> Iterator[None]:
    """Run the body as the runtime role inside ``company``'s context (tasks, commands)."""
    previous = (current_alias(), current_context())
    _activate(context_for(company, actor_id), RUNTIME_ALIAS)
    try:
        yield
    finally:
        _activate(previous[1], previous[0])


@contextlib.contextmanager
def platform_context() -> Iterator[None]:
    """Run the body as the platform role, without company context."""
    previous = (current_alias(), current_context())
    _activate(NO_CONTEXT, PLATFORM_ALIAS)
    try:
        yield
    finally:
        _activate(previous[1], previous[0])


@contextlib.contextmanager
def anonymous_context() -> Iterator[None]:
    """Run the body as the runtime role without any company (anonymous public pages).

    For visitors of the public host who are not platform staff (sign-up): the
    runtime role's rights on public tables are narrower than the platform role's.
    """
    previous = (current_alias(), current_context())
    _activate(NO_CONTEXT, RUNTIME_ALIAS)
    try:
        yield
    finally:
        _activate(previous[1], previous[0])


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


# --- requests -------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedHost:
    company_id: int
    schema_name: str
    status: str
    name: str
    plan: str

    def company(self) -> Any:
        """The host's Company with these fields loaded; any other field loads when read."""
        from tenants.models import Company

        known = {"id": self.company_id, "schema_name": self.schema_name, "status": self.status,
                 "name": self.name, "plan": self.plan}  # fmt: skip
        fields = [f.attname for f in Company._meta.concrete_fields if f.attname in known]
        return Company.from_db(RUNTIME_ALIAS, fields, [known[f] for f in fields])


def resolve_host(hostname: str) -> ResolvedHost | None:
    """Company for a host name, through ``qiro_resolve_host`` (SECURITY DEFINER).

    The runtime role may not list companies; this function answers exactly
    one question (which company serves this host) and nothing else.
    """
    with connections[RUNTIME_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT company_id, schema_name, status, name, plan FROM qiro_resolve_host(%s)",
            [hostname],
        )
        row = cursor.fetchone()
    return ResolvedHost(*row) if row else None


def is_public_host(hostname: str) -> bool:
    return hostname in {settings.BASE_DOMAIN, "127.0.0.1", "localhost"}


class TenantContextMiddleware:
    """Route the request by its host: the public site or one company's site.

    * public host: platform role, no company context, public URLs;
    * a company's host: runtime role, that company's schema and id, company URLs;
      a suspended company gets a clear page, an unknown host a 404.

    Must come before anything that touches the database (sessions, auth).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            response = self._dispatch(request)
        finally:
            clear()
            set_urlconf(None)
        return response

    def _dispatch(self, request: HttpRequest) -> HttpResponse:
        clear()
        hostname = request.get_host().split(":")[0].lower()
        if is_public_host(hostname):
            _activate(NO_CONTEXT, PLATFORM_ALIAS)
            # No request.tenant here: django-tenants' templates read its
            # absence as "the public schema".
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            set_urlconf(request.urlconf)
            return self.get_response(request)

        resolved = resolve_host(hostname)
        if resolved is None:
            return render(request, "qiro/unknown_host.html", {"hostname": hostname}, status=404)
        _activate(
            TenantContext(schema_name=resolved.schema_name, company_id=resolved.company_id),
            RUNTIME_ALIAS,
        )
        from tenants.models import Company

        company = resolved.company()
        request.tenant = company  # type: ignore[attr-defined]
        if company.status != Company.Status.ACTIVE:
            return render(request, "qiro/company_suspended.html", {"company": company}, status=403)
        request.urlconf = settings.ROOT_URLCONF
        set_urlconf(request.urlconf)
        return self.get_response(request)


class ActorMiddleware:
    """After authentication: the signed-in user is the actor of this request's writes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            set_actor(user.pk)
        return self.get_response(request)
