"""One shape for both APIs: version 1, its docs and OpenAPI beside it, errors as problems."""

from __future__ import annotations

from ninja import NinjaAPI, Router

from api import problems


def versioned_api(
    *, title: str, description: str, namespace: str, routers: dict[str, Router]
) -> NinjaAPI:
    """A NinjaAPI at ``/api/v1/`` (docs at ``docs``, schema at ``openapi.json``) whose
    every error is answered as problem details (``api.problems``), with ``routers``
    mounted under their prefixes."""
    api = NinjaAPI(
        title=title,
        version="1",
        description=description,
        urls_namespace=namespace,
        docs_url="docs",
        openapi_url="openapi.json",
    )
    problems.install(api)
    for prefix, router in routers.items():
        api.add_router(prefix, router)
    return api
