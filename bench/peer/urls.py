"""The peer's pages: QIRO's company home template, Django's admin and sign-in."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import include, path


def home(request: HttpRequest) -> HttpResponse:
    context = {"company": request.tenant, "form": AuthenticationForm(request)}  # type: ignore[attr-defined]
    return render(request, "qiro/company_home.html", context)


# The names QIRO's template links to.
accounts = (
    [
        path("login/", auth_views.LoginView.as_view(), name="login"),
        path("logout/", auth_views.LogoutView.as_view(), name="logout"),
        path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
        path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    ],
    "sysauth",
)

urlpatterns = [
    path("", home),
    path("admin/", admin.site.urls),
    path("accounts/", include(accounts)),
]
