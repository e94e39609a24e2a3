from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """The JSON API of the company hosts and of the platform host (``/api/v1/``)."""

    name = "api"
    verbose_name = _("API")
