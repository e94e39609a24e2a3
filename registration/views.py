"""Sign-up pages of the public host; thin over ``registration.services``.

They run as the runtime role without company context (the services open
``anonymous_context``), not as the platform role of the rest of the public host.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from registration import services
from registration.forms import ResendForm, SignupForm
from registration.link_state import link_state

# Outcome of a verification link -> HTTP status of its page.
VERIFY_STATUS = {"verified": 200, "used": 410, "expired": 410, "unknown": 404}


def _verify_url(request: HttpRequest) -> Callable[[str], str]:
    def build(token: str) -> str:
        return request.build_absolute_uri(reverse("registration:verify", args=[token]))

    return build


@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None, base_domain=settings.BASE_DOMAIN)
    if request.method == "POST" and form.is_valid():
        data = form.signup_data()
        try:
            services.submit_application(
                data=data, password=form.cleaned_data["password1"], verify_url=_verify_url(request)
            )
        except services.SignupConflict as conflict:
            form.add_error(conflict.field, conflict.message)
        else:
            request.session["signup_sent"] = {
                "email": data.contact_email,
                "host": f"{data.subdomain}.{settings.BASE_DOMAIN}",
            }
            return redirect("registration:sent")
    status = 400 if form.is_bound else 200
    return render(request, "registration/signup.html", {"form": form}, status=status)


@never_cache
def sent(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/sent.html", {"sent": request.session.get("signup_sent")})


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        # Read only: mail scanners open links, so only the button uses the token.
        state, company_name = link_state(token=token)
        if state != "pending":
            return render(
                request,
                "registration/verify_result.html",
                {"outcome": state},
                status=VERIFY_STATUS.get(state, 404),
            )
        return render(
            request,
            "registration/verify_confirm.html",
            {"token": token, "company_name": company_name},
        )
    outcome = services.verify_email(token=token)
    return render(
        request,
        "registration/verify_result.html",
        {"outcome": outcome},
        status=VERIFY_STATUS.get(outcome, 404),
    )


@never_cache
@require_http_methods(["GET", "POST"])
def resend(request: HttpRequest) -> HttpResponse:
    form = ResendForm(request.POST or None)
    outcome = None
    if request.method == "POST" and form.is_valid():
        outcome = services.resend_verification(
            email=form.cleaned_data["email"], verify_url=_verify_url(request)
        )
    status = 429 if outcome == "rate_limited" else 200
    return render(
        request, "registration/resend.html", {"form": form, "outcome": outcome}, status=status
    )
