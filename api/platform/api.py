"""The platform API at ``/api/v1/`` of the platform host, for platform staff."""

from __future__ import annotations

from api.platform import applications, auth_routes, companies, operations
from api.versioned import versioned_api

platform_api = versioned_api(
    title="QIRO platform API",
    description="Companies, applications and operations, for platform staff.",
    namespace="platform_api",
    routers={
        "auth": auth_routes.router,
        "companies": companies.router,
        "applications": applications.router,
        "operations": operations.router,
    },
)
