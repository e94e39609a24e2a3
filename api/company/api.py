"""The company API at ``/api/v1/`` of every company host (OpenAPI at ``openapi.json``,
the interactive docs at ``docs``)."""

from __future__ import annotations

from ninja import NinjaAPI

from api import problems
from api.company import auth_routes, history, roles, sessions, tokens, users

company_api = NinjaAPI(
    title="QIRO company API",
    version="1",
    description="Sign-in, sessions, users, roles and the permission history of one company.",
    urls_namespace="company_api",
    docs_url="docs",
    openapi_url="openapi.json",
)
problems.install(company_api)
company_api.add_router("auth", auth_routes.router)
company_api.add_router("sessions", sessions.router)
company_api.add_router("users", users.router)
company_api.add_router("roles", roles.router)
company_api.add_router("permission-history", history.router)
company_api.add_router("tokens", tokens.router)
