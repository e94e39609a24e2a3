from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches no database."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def health_ready(request: HttpRequest) -> JsonResponse:
    """Readiness: database as the runtime role, migrations, worker, verification (200/503)."""
    from deployments.health import readiness

    report = readiness()
    return JsonResponse(report, status=200 if report["ready"] else 503)


def public_home(request: HttpRequest) -> HttpResponse:
    return render(request, "qiro/public_home.html")


def company_home(request: HttpRequest) -> HttpResponse:
    return render(request, "qiro/company_home.html", {"company": request.tenant})  # type: ignore[attr-defined]
