from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from sysauth import display, selectors
from sysauth.forms import ThrottledAuthenticationForm
from sysauth.views import sessions_overview


@require_GET
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches no database."""
    return JsonResponse({"status": "ok"})


def public_home(request: HttpRequest) -> HttpResponse:
    return render(request, "qiro/public_home.html")


@never_cache
def company_home(request: HttpRequest) -> HttpResponse:
    """The company's portal: a sign-in, or who you are, your roles and your sessions."""
    context: dict[str, Any] = {"company": request.tenant}  # type: ignore[attr-defined]
    if not request.user.is_authenticated:
        context["form"] = ThrottledAuthenticationForm(request)
        return render(request, "qiro/company_home.html", context)
    context.update(
        sessions_overview(request),
        roles=[display.role_label(name) for name in selectors.roles_of(user=request.user)],
        can_use_admin=request.user.has_perm("sysauth.use_company_admin"),
    )
    return render(request, "qiro/company_home.html", context)
