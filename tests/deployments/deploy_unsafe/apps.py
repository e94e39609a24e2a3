from django.apps import AppConfig


class DeployUnsafeConfig(AppConfig):
    """A test-only company app whose migration turns a company table's row security off."""

    name = "tests.deployments.deploy_unsafe"
    label = "deploy_unsafe"
