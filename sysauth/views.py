"""Sign-in, sign-out, passwords and "my sessions" on a company's host.

Thin: the rules are in ``sysauth.services``; Django's auth views do the rest.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from sysauth import selectors, services
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


class LogoutView(auth_views.LogoutView):
    next_page = "sysauth:login"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "sysauth/password_change_form.html"
    success_url = reverse_lazy("sysauth:password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)  # keeps this session, under a new key
        ended = services.revoke_user_sessions(
            user=form.user,
            reason="password changed",
            actor_id=form.user.pk,
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


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "sysauth/password_change_done.html"


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "sysauth/password_reset_form.html"
    email_template_name = "sysauth/password_reset_email.txt"
    subject_template_name = "sysauth/password_reset_subject.txt"
    success_url = reverse_lazy("sysauth:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "sysauth/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "sysauth/password_reset_confirm.html"
    success_url = reverse_lazy("sysauth:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        services.revoke_user_sessions(user=form.user, reason="password reset", actor_id=None)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "sysauth/password_reset_complete.html"


@login_required
def sessions(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "sysauth/sessions.html",
        {
            "sessions": selectors.active_sessions_of(user=request.user),  # type: ignore[arg-type]
            "current_pk": _current_session_pk(request),
        },
    )


@login_required
@require_POST
def sign_out_session(request: HttpRequest, pk: int) -> HttpResponse:
    if pk == _current_session_pk(request):
        messages.error(request, _("Use “Sign out” to end the session you are using."))
    elif services.sign_out_session(user=request.user, session_pk=pk):  # type: ignore[arg-type]
        messages.success(request, _("The session was signed out."))
    else:
        messages.error(request, _("That session is not active any more."))
    return redirect("sysauth:sessions")


@login_required
@require_POST
def sign_out_other_sessions(request: HttpRequest) -> HttpResponse:
    ended = services.revoke_user_sessions(
        user=request.user,  # type: ignore[arg-type]
        reason="signed out by the user",
        actor_id=request.user.pk,
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
    return redirect("sysauth:sessions")
