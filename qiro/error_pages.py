"""With ``DEBUG`` on, visitors still get the site's own error pages.

``dev.py run`` serves with ``DJANGO_DEBUG=true`` (a local key, cookies over
plain HTTP, static files from the apps). Django then answers an unknown
address with a page listing every URL pattern and an exception with a
traceback and the settings: pages for nobody but a developer, shown to whoever
opens the company's or the platform's host. This middleware gives such
requests the same 400/403/404/500 pages as production (the templates in
``templates/``, through the URL configuration's error handlers); a server
error's traceback still goes to the console log, where the developer looks.
With ``DEBUG`` off it is not installed (``MiddlewareNotUsed``): Django itself
renders those pages, and requests go through one middleware fewer.

Last in ``MIDDLEWARE``: every earlier middleware (host, language, slash
redirect) applies to the page as to any other response.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core import signals
from django.core.exceptions import (
    BadRequest,
    MiddlewareNotUsed,
    PermissionDenied,
    SuspiciousOperation,
)
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import Resolver404, get_resolver, resolve

logger = logging.getLogger("django.request")

_CLIENT_ERRORS: tuple[tuple[type[Exception], int], ...] = (
    (Http404, 404),
    (PermissionDenied, 403),
    (MultiPartParserError, 400),
    (BadRequest, 400),
    (SuspiciousOperation, 400),
)


def error_page(request: HttpRequest, status: int, exception: Exception | None) -> HttpResponse:
    """The page the URL configuration's handler for ``status`` renders (``404.html``…)."""
    resolver = get_resolver(getattr(request, "urlconf", None))
    handler: Callable[..., HttpResponse] = resolver.resolve_error_handler(status)
    return handler(request) if status == 500 else handler(request, exception)


class VisitorErrorPagesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.DEBUG:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.DEBUG:
            try:
                resolve(request.path_info, urlconf=getattr(request, "urlconf", None))
            except Resolver404 as unknown:
                return error_page(request, 404, unknown)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not settings.DEBUG:
            return None
        for kind, status in _CLIENT_ERRORS:
            if isinstance(exception, kind):
                return error_page(request, status, exception)
        logger.error("Internal Server Error: %s", request.path, exc_info=exception)
        # As Django's own handler does: the test client re-raises through this signal.
        signals.got_request_exception.send(sender=None, request=request)
        return error_page(request, 500, None)
