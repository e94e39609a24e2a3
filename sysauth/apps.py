from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from sysauth.address_throttle import THROTTLE_FUNCTIONS


class SysauthConfig(AppConfig):
    name = "sysauth"
    verbose_name = _("Users and access")
    # Read by qiro.db.objects: installed by migrations, compared by verification.
    database_objects = THROTTLE_FUNCTIONS
