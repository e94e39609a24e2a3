"""The project's settings plus a company app with new migrations (for the deploy tests)."""

from qiro.settings import *  # noqa: F403
from qiro.settings import SHARED_APPS, TENANT_APPS

FIXTURE = "tests.deployments.deploy_fixture"
TENANT_APPS = [*TENANT_APPS, FIXTURE]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
