"""The project's settings plus an app whose migration fails (for the rollback test)."""

from qiro.settings import *  # noqa: F403
from qiro.settings import SHARED_APPS, TENANT_APPS

PROBE = "tests.deployments.deploy_probe"
SHARED_APPS = [*SHARED_APPS, PROBE]
TENANT_APPS = [*TENANT_APPS, PROBE]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
