"""``/accounts/`` on a company's host.

Django's auth views that only need our templates are configured here; those
that do more are in ``sysauth.views``.
"""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from sysauth import views

app_name = "sysauth"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="sysauth:login"), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="sysauth/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path(
        "password/reset/",
        auth_views.PasswordResetView.as_view(
            template_name="sysauth/password_reset_form.html",
            email_template_name="sysauth/password_reset_email.txt",
            subject_template_name="sysauth/password_reset_subject.txt",
            success_url=reverse_lazy("sysauth:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="sysauth/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="sysauth/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/<int:pk>/sign-out/", views.sign_out_session, name="sign_out_session"),
    path("sessions/sign-out-others/", views.sign_out_other_sessions, name="sign_out_others"),
]
