"""The owner's backend: django-tenants' schema switching, for DDL work only.

Migrations, provisioning, backups and deploys run here. The owner bypasses
row-level security, so no request or task code may use this alias; the
runtime backend (``qiro.db.backends.runtime``) serves those.
"""

from django_tenants.postgresql_backend import base as tenants_base

from qiro.db.backends.common import EmbeddedServerMixin


class DatabaseWrapper(EmbeddedServerMixin, tenants_base.DatabaseWrapper):
    pass
