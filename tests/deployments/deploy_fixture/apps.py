from django.apps import AppConfig


class DeployFixtureConfig(AppConfig):
    """A test-only company app whose migrations exercise every way a deploy applies one."""

    name = "tests.deployments.deploy_fixture"
    label = "deploy_fixture"
