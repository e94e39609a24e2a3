"""Sign-in, sign-out, passwords and "my sessions" on a company's host.

Thin: the rules are in ``sysauth.actions``; Django's auth views do the rest
(those that only need their templates are configured in ``sysauth.urls``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sysauth import actions, display, selectors
from sysauth.forms import ThrottledAuthenticationForm
from sysauth.sessions.base import TrackedSessionBase


def _current_session_pk(request: HttpRequest) -> int | None:
    session = request.session
    return session.record_pk if isinstance(session, TrackedSessionBase) else None


class LoginView(auth_views.LoginView):
    """Sign in; signed in already, the form is shown and says who will be signed out.

    Signing in while signed in goes through ``django.contrib.auth.login`` as
    always: as another user, the old session is flushed (its row ends as
    signed out) and the new user gets a new key and an empty session; the
    same user signing in again keeps the session, which is theirs already.
    A redirect of signed-in users (Django's ``redirect_authenticated_user``)
    would instead drop the POST silently and leave the first user signed in.
    """

    form_class = ThrottledAuthenticationForm
    template_name = "sysauth/login.html"
    redirect_authenticated_user = False
    next_page = "/"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "sysauth/password_change_form.html"
    success_url = reverse_lazy("sysauth:password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)  # keeps this session, under a new key
        ended = actions.revoke_user_sessions(
            user=form.user,
            reason="password changed",
            acting_user=form.user,
            keep_session_pk=_current_session_pk(self.request),
        )
        if ended:
            messages.info(
                self.request,
                ngettext(
                    "%(count)d other session was signed out.",
                    "%(count)d other sessions were signed out.",
                    ended,
                )
                % {"count": ended},
            )
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "sysauth/password_reset_confirm.html"
    success_url = reverse_lazy("sysauth:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        actions.revoke_user_sessions(user=form.user, reason="password reset", acting_user=None)
        return response


def sessions_overview(request: HttpRequest) -> dict[str, Any]:
    """What a sessions list shows: the user's active sessions, which one is this, any others."""
    current_pk = _current_session_pk(request)
    active = list(selectors.active_sessions_of(user=request.user))  # type: ignore[arg-type]
    return {
        "sessions": active,
        "current_pk": current_pk,
        "has_other_sessions": any(session.pk != current_pk for session in active),
    }


def _back(request: HttpRequest) -> HttpResponse:
    """To the page the form came from (the portal or "my sessions"), on this host only."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("sysauth:sessions")


def _confirm(request: HttpRequest, **shown: Any) -> HttpResponse:
    """The page asking to confirm a sign-out; its form posts back and then returns to ``next``."""
    context = {**shown, "next": request.GET.get("next", "")}
    return render(request, "sysauth/session_confirm.html", context)


@login_required
def sessions(request: HttpRequest) -> HttpResponse:
    return render(request, "sysauth/sessions.html", sessions_overview(request))


@login_required
@require_http_methods(["GET", "POST"])
def sign_out_session(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation, naming the device; POST signs that session out."""
    if pk == _current_session_pk(request):
        messages.error(request, _("Use “Sign out” to end the session you are using."))
        return _back(request)
    if request.method == "GET":
        session = selectors.active_sessions_of(user=request.user).filter(pk=pk).first()  # type: ignore[arg-type]
        if session is None:
            messages.error(request, _("That session is not active any more."))
            return _back(request)
        return _confirm(request, session=session)
    if actions.sign_out_session(user=request.user, session_pk=pk):  # type: ignore[arg-type]
        messages.success(request, _("The session was signed out."))
    else:
        messages.error(request, _("That session is not active any more."))
    return _back(request)


@login_required
@require_http_methods(["GET", "POST"])
def sign_out_other_sessions(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation, counting the sessions; POST signs them all out."""
    if request.method == "GET":
        overview = sessions_overview(request)
        others = [s for s in overview["sessions"] if s.pk != overview["current_pk"]]
        if not others:
            messages.info(request, _("No other session is signed in."))
            return _back(request)
        return _confirm(request, others=others)
    ended = actions.revoke_user_sessions(
        user=request.user,  # type: ignore[arg-type]
        reason="signed out by the user",
        acting_user=request.user,  # type: ignore[arg-type]
        keep_session_pk=_current_session_pk(request),
    )
    messages.success(
        request,
        ngettext(
            "%(count)d other session was signed out.",
            "%(count)d other sessions were signed out.",
            ended,
        )
        % {"count": ended},
    )
    return _back(request)


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
