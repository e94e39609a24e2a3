from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SysauthConfig(AppConfig):
    name = "sysauth"
    verbose_name = _("Users and access")
