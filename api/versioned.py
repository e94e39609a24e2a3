"""One shape for both APIs: version 1, its docs and OpenAPI beside it, errors as problems."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from ninja import NinjaAPI, Router
from ninja.renderers import JSONRenderer

from api import problems

# How both APIs write their answers (ninja's JSON encoder: ISO dates, "Z" for UTC).
RENDERER = JSONRenderer()
CONTENT_TYPE = f"{RENDERER.media_type}; charset={RENDERER.charset}"


def rendered(data: Any, *, status: int = 200) -> HttpResponse:
    """``data``, already in the shape of the operation's response schema, written as the
    API writes every answer, without passing it through the schema again.

    For the hot answers (a history page, ``me``): ninja would validate each row
    field by field (pydantic, through its Django getter), which costs more than
    the page's query. The schema stays the documented answer; the tests validate
    these answers against it.
    """
    return HttpResponse(
        RENDERER.render(None, data, response_status=status),  # type: ignore[arg-type]
        status=status,
        content_type=CONTENT_TYPE,
    )


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
        renderer=RENDERER,
    )
    problems.install(api)
    for prefix, router in routers.items():
        api.add_router(prefix, router)
    return api
