"""URLs of the public host: landing, sign-up, platform admin, health."""

from django.conf import settings
from django.urls import include, path

from api.platform.api import platform_api
from deployments.views import health_ready
from qiro import views
from qiro.admin_sites import platform_admin

urlpatterns = [
    path("", views.public_home, name="home"),
    path("health/", views.health, name="health"),
    path("health/ready/", health_ready, name="health_ready"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("signup/", include("registration.urls")),
    path(settings.QIRO_PLATFORM_ADMIN_PATH, platform_admin.urls),
    path("api/v1/", platform_api.urls),
]
