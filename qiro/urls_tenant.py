"""URLs of a company's host: its site and its own admin. No platform admin here."""

from django.urls import include, path

from api.company.api import company_api
from qiro import views
from qiro.admin_sites import company_admin
from sysauth import views as sysauth_views

urlpatterns = [
    path("", sysauth_views.company_home, name="home"),
    path("health/", views.health, name="health"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("sysauth.urls")),
    path("admin/", company_admin.urls),
    path("api/v1/", company_api.urls),
]
