"""The platform API at ``/api/v1/`` of the platform host, for platform staff."""

from __future__ import annotations

from ninja import NinjaAPI

from api import problems
from api.platform import applications, auth_routes, companies, operations

platform_api = NinjaAPI(
    title="QIRO platform API",
    version="1",
    description="Companies, applications and operations, for platform staff.",
    urls_namespace="platform_api",
    docs_url="docs",
    openapi_url="openapi.json",
)
problems.install(platform_api)
platform_api.add_router("auth", auth_routes.router)
platform_api.add_router("companies", companies.router)
platform_api.add_router("applications", applications.router)
platform_api.add_router("operations", operations.router)
