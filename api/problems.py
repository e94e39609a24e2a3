"""Errors as problem details (RFC 9457): ``application/problem+json``, never a page.

Each problem has a stable ``type`` (``urn:qiro:problem:<slug>``), a translated
``title`` and ``detail`` in the language of the request (``Accept-Language``,
Korean first) and, for refused input, ``errors`` naming each field. Raised
as ``ApiProblem`` by the endpoints; the exceptions of the services, of Django
and of django-ninja are turned into problems by ``install``; whatever still
answers an ``/api/`` request with an error of its own (an unknown host, a
suspended company, an unknown path, a wrong method, a crash) is turned into
one by ``ProblemDetailsMiddleware``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise
    from ninja import NinjaAPI

logger = logging.getLogger("qiro.api")
CONTENT_TYPE = "application/problem+json"
API_PREFIX = "/api/"

# slug -> (status, title)
PROBLEMS: dict[str, tuple[int, StrOrPromise]] = {
    "bad-request": (400, _("The request cannot be read")),
    "invalid-cursor": (400, _("The page cursor is not valid")),
    "unauthenticated": (401, _("Sign-in required")),
    "invalid-credentials": (401, _("Sign-in failed")),
    "forbidden": (403, _("Not allowed")),
    "escalation-refused": (403, _("Beyond your own rights")),
    "scope-missing": (403, _("The token does not cover this")),
    "csrf-failed": (403, _("The CSRF check failed")),
    "company-suspended": (403, _("The company is suspended")),
    "not-found": (404, _("Not found")),
    "unknown-host": (404, _("Unknown host")),
    "method-not-allowed": (405, _("Method not allowed")),
    "conflict": (409, _("Not possible in the current state")),
    "unsupported-media-type": (415, _("Send the body as JSON")),
    "validation": (422, _("The input is not valid")),
    "throttled": (429, _("Too many attempts")),
    "server-error": (500, _("Something went wrong on our side")),
}
DETAILS: dict[str, StrOrPromise] = {
    "unauthenticated": _(
        "Sign in first: send a session cookie, or a token as “Authorization: Bearer <token>”."
    ),
    "forbidden": _("Your roles do not allow this. Ask an owner or an administrator."),
    "csrf-failed": _(
        "Requests signed in by cookie must send the CSRF token in the X-CSRFToken header."
    ),
    "company-suspended": _("This company is suspended; its API answers nothing until reactivated."),
    "not-found": _("Nothing is here, or it is not yours to see."),
    "unknown-host": _("No company is served at this address."),
    "method-not-allowed": _("This address does not take that method."),
    "validation": _("Correct the fields named in “errors” and send again."),
    "server-error": _("The error was recorded. Try again later."),
    "bad-request": _("The request is malformed."),
}
STATUS_SLUGS = {400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found",
                405: "method-not-allowed", 409: "conflict", 415: "unsupported-media-type",
                422: "validation", 429: "throttled"}  # fmt: skip


class ApiProblem(Exception):
    """Answer the request with the problem ``slug``."""

    def __init__(
        self,
        slug: str,
        detail: StrOrPromise | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(slug)
        self.slug = slug
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def problem_response(
    request: HttpRequest,
    slug: str,
    detail: StrOrPromise | None = None,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    status, title = PROBLEMS[slug]
    language = translation.get_language_from_request(request)
    with translation.override(language):
        body: dict[str, Any] = {
            "type": f"urn:qiro:problem:{slug}",
            "title": str(title),
            "status": status,
            "detail": str(detail if detail is not None else DETAILS.get(slug, title)),
            "instance": request.path,
        }
        if errors is not None:
            body["errors"] = [{k: str(v) for k, v in e.items()} for e in errors]
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=CONTENT_TYPE
    )
    response["Content-Language"] = language
    for name, value in (headers or {}).items():
        response[name] = value
    return response


# --- field errors ---------------------------------------------------------------

# pydantic's error types, said for people (the type stays in "code").
PYDANTIC_MESSAGES: dict[str, StrOrPromise] = {
    "missing": _("This field is required."),
    "string_too_long": _("This value is too long."),
    "string_too_short": _("This value is too short."),
    "string_type": _("Give this as text."),
    "int_parsing": _("Give a whole number."),
    "int_type": _("Give a whole number."),
    "bool_parsing": _("Give true or false."),
    "bool_type": _("Give true or false."),
    "datetime_from_date_parsing": _("Give a date and time (ISO 8601)."),
    "datetime_parsing": _("Give a date and time (ISO 8601)."),
    "datetime_type": _("Give a date and time (ISO 8601)."),
    "greater_than_equal": _("This number is too small."),
    "less_than_equal": _("This number is too large."),
    "list_type": _("Give a list."),
    "literal_error": _("This is not one of the allowed values."),
    "enum": _("This is not one of the allowed values."),
    "value_error": _("This value is not valid."),
    "json_invalid": _("The body is not valid JSON."),
    "model_attributes_type": _("Give a JSON object."),
    "dict_type": _("Give a JSON object."),
}


def _field_name(location: Any) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "payload", "filters")]
    return ".".join(parts) or "__all__"


def pydantic_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    found = []
    for error in errors:
        code = str(error.get("type", "value_error"))
        message = PYDANTIC_MESSAGES.get(code, _("This value is not valid."))
        found.append({"field": _field_name(error.get("loc", ())), "code": code,
                      "message": str(message)})  # fmt: skip
    return found


def django_errors(error: ValidationError) -> list[dict[str, str]]:
    if hasattr(error, "error_dict"):
        return [
            {"field": field, "code": e.code or "invalid", "message": " ".join(e.messages)}
            for field, items in error.error_dict.items()
            for e in items
        ]
    return [{"field": "__all__", "code": e.code or "invalid", "message": " ".join(e.messages)}
            for e in error.error_list]  # fmt: skip


def _validation_detail(errors: list[dict[str, str]]) -> str:
    return " ".join(e["message"] for e in errors)


# --- django-ninja -----------------------------------------------------------------


def install(api: NinjaAPI) -> None:
    """Every exception an endpoint or the framework raises, answered as a problem."""
    from ninja.errors import AuthenticationError, HttpError
    from ninja.errors import ValidationError as NinjaValidationError

    def on_problem(request: HttpRequest, exc: ApiProblem) -> HttpResponse:
        return problem_response(
            request, exc.slug, exc.detail, errors=exc.errors, headers=exc.headers
        )

    def on_input(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        return problem_response(request, "validation", errors=pydantic_errors(list(exc.errors)))

    def on_auth(request: HttpRequest, exc: Exception) -> HttpResponse:
        return problem_response(request, "unauthenticated", headers={"WWW-Authenticate": "Bearer"})

    def on_http(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 403 and "CSRF" in str(exc):
            return problem_response(request, "csrf-failed")
        return problem_response(request, STATUS_SLUGS.get(exc.status_code, "bad-request"))

    def on_refused(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = django_errors(exc)
        slug = "escalation-refused" if any(e["code"] == "escalation" for e in errors) else (
            "validation")  # fmt: skip
        return problem_response(request, slug, _validation_detail(errors), errors=errors)

    def on_missing(request: HttpRequest, exc: Exception) -> HttpResponse:
        return problem_response(request, "not-found")

    def on_denied(request: HttpRequest, exc: Exception) -> HttpResponse:
        return problem_response(request, "forbidden")

    def on_crash(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.error("API error: %s %s", request.method, request.path, exc_info=exc)
        return problem_response(request, "server-error")

    handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
        (ApiProblem, on_problem),
        (NinjaValidationError, on_input),
        (AuthenticationError, on_auth),
        (HttpError, on_http),
        (ValidationError, on_refused),
        (Http404, on_missing),
        (ObjectDoesNotExist, on_missing),
        (PermissionDenied, on_denied),
        (Exception, on_crash),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)


# --- answers that never reached an endpoint --------------------------------------------


class ProblemDetailsMiddleware:
    """Under ``/api/``, any error answer that is not a problem yet becomes one.

    Sits before ``TenantContextMiddleware``, so the host's own refusals (an
    unknown host, a suspended company) are caught too, as are Django's 404
    and 405 pages and a server error.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except Exception as error:  # the last line: nothing below answered
            logger.error("API error: %s %s", request.method, request.path, exc_info=error)
            return problem_response(request, "server-error")
        if response.status_code < 400 or response.get("Content-Type", "").startswith(CONTENT_TYPE):
            return response
        return self._as_problem(request, response)

    def _as_problem(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        status = response.status_code
        tenant = getattr(request, "tenant", None)
        if status == 404 and tenant is None and not _public_host(request):
            return problem_response(request, "unknown-host")
        if status == 403 and tenant is not None and tenant.status != "active":
            return problem_response(request, "company-suspended")
        if status == 405:
            return problem_response(request, "method-not-allowed",
                                    headers={"Allow": response.get("Allow", "")})  # fmt: skip
        if status >= 500:
            return problem_response(request, "server-error")
        return problem_response(request, STATUS_SLUGS.get(status, "bad-request"))


def _public_host(request: HttpRequest) -> bool:
    from qiro.middleware import is_public_host

    try:
        host = request.get_host().split(":")[0].lower()
    except Exception:  # a host Django refuses: not ours either
        return False
    return is_public_host(host) or host == settings.BASE_DOMAIN
