from django.apps import AppConfig


class DeployProbeConfig(AppConfig):
    """A test-only app whose second migration fails in company schemas."""

    name = "tests.deployments.deploy_probe"
    label = "deploy_probe"
