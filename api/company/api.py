"""The company API at ``/api/v1/`` of every company host (OpenAPI at ``openapi.json``,
the interactive docs at ``docs``)."""

from __future__ import annotations

from api.company import auth_routes, history, roles, sessions, tokens, users
from api.versioned import versioned_api

company_api = versioned_api(
    title="QIRO company API",
    description="Sign-in, sessions, users, roles and the permission history of one company.",
    namespace="company_api",
    routers={
        "auth": auth_routes.router,
        "sessions": sessions.router,
        "users": users.router,
        "roles": roles.router,
        "permission-history": history.router,
        "tokens": tokens.router,
    },
)
