"""The project's settings plus a company app whose migration disables row security."""

from qiro.settings import *  # noqa: F403
from qiro.settings import SHARED_APPS, TENANT_APPS

UNSAFE = "tests.deployments.deploy_unsafe"
TENANT_APPS = [*TENANT_APPS, UNSAFE]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
