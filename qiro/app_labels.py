"""Which apps live in ``public`` and which in every company schema (django-tenants routing)."""

from __future__ import annotations

from django.conf import settings


def tenant_app_labels() -> set[str]:
    """Labels of the apps migrated in every company schema (``TENANT_APPS``)."""
    return {app.rsplit(".", 1)[-1] for app in settings.TENANT_APPS}


def shared_app_labels() -> set[str]:
    """Labels of the apps migrated in ``public`` (``SHARED_APPS``)."""
    return {app.rsplit(".", 1)[-1] for app in settings.SHARED_APPS}
