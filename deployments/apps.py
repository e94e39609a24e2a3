import threading
from contextlib import AbstractContextManager
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate, pre_migrate
from django.utils.translation import gettext_lazy as _

_migrating = threading.local()


def _enter_owner_context(using: str, **_: Any) -> None:
    """While migrating as the owner, the ORM goes to the owner too.

    Some third-party data migrations (django-tasks-db's 0016) query through
    the default router without ``using``; here that would be the runtime role,
    which has no rights on the table and waits forever on the migration's lock.
    """
    from qiro.tenant_context import owner_context

    if settings.DATABASES[using].get("QIRO_ROLE") != "owner":
        return
    context = owner_context()
    context.__enter__()
    stack: list[AbstractContextManager[None]] = getattr(_migrating, "stack", [])
    stack.append(context)
    _migrating.stack = stack


def _leave_owner_context(using: str, **_: Any) -> None:
    stack: list[AbstractContextManager[None]] = getattr(_migrating, "stack", [])
    if settings.DATABASES[using].get("QIRO_ROLE") == "owner" and stack:
        stack.pop().__exit__(None, None, None)


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = _("Deployments")

    def ready(self) -> None:
        pre_migrate.connect(_enter_owner_context, sender=self, dispatch_uid="qiro_owner_migrate")
        post_migrate.connect(_leave_owner_context, sender=self, dispatch_uid="qiro_owner_migrate")
