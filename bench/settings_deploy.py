"""The project's settings plus the benchmark's company app (bench/deploy.py only)."""

from qiro.settings import *  # noqa: F403
from qiro.settings import SHARED_APPS, TENANT_APPS

TENANT_APPS = [*TENANT_APPS, "deploy_app"]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
