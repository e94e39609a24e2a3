"""The HTTP side of the tenant context: a request is routed by its host.

The public host runs as the platform role without company context; a
company's host runs as the runtime role in that company's schema and id. The
context is cleared when the response is done, whatever happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import set_urlconf
from django_tenants.utils import get_tenant_model

from qiro.context import NO_CONTEXT, TenantContext
from qiro.tenant_context import PLATFORM_ALIAS, RUNTIME_ALIAS, activate, clear, set_actor


@dataclass(frozen=True)
class ResolvedHost:
    company_id: int
    schema_name: str
    status: str
    name: str
    plan: str

    def company(self) -> Any:
        """The host's company with these fields loaded; any other field loads when read."""
        model = get_tenant_model()
        known = {"id": self.company_id, "schema_name": self.schema_name, "status": self.status,
                 "name": self.name, "plan": self.plan}  # fmt: skip
        fields = [f.attname for f in model._meta.concrete_fields if f.attname in known]
        return model.from_db(RUNTIME_ALIAS, fields, [known[f] for f in fields])


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
            activate(NO_CONTEXT, PLATFORM_ALIAS)
            # No request.tenant here: django-tenants' templates read its
            # absence as "the public schema".
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            set_urlconf(request.urlconf)
            return self.get_response(request)

        resolved = resolve_host(hostname)
        if resolved is None:
            return render(request, "qiro/unknown_host.html", {"hostname": hostname}, status=404)
        activate(
            TenantContext(schema_name=resolved.schema_name, company_id=resolved.company_id),
            RUNTIME_ALIAS,
        )
        # One query routes the request: the Company is built from the host lookup.
        company = resolved.company()
        request.tenant = company  # type: ignore[attr-defined]
        if company.status != company.Status.ACTIVE:
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
