"""``/accounts/`` on a company's host."""

from django.urls import path

from sysauth import views

app_name = "sysauth"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/done/", views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/<int:pk>/sign-out/", views.sign_out_session, name="sign_out_session"),
    path("sessions/sign-out-others/", views.sign_out_other_sessions, name="sign_out_others"),
]
