from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class QiroConfig(AppConfig):
    name = "qiro"
    verbose_name = "QIRO"

    def ready(self) -> None:
        from qiro import checks  # noqa: F401 - registers the system checks
        from qiro.db.secure import apply_grants_after_migrate

        # sysauth is migrated in every schema, so its post_migrate fires once per schema.
        post_migrate.connect(
            apply_grants_after_migrate,
            sender=apps.get_app_config("sysauth"),
            dispatch_uid="qiro.apply_grants_after_migrate",
        )
