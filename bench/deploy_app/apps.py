from django.apps import AppConfig


class BenchDeployConfig(AppConfig):
    """Benchmark-only company app: the "one new migration" that bench/deploy.py deploys."""

    name = "deploy_app"
    label = "bench_deploy"
