"""The owner's backend: django-tenants' schema switching, for DDL work only.

Migrations, provisioning, backups and deploys run here. The owner bypasses
row-level security, so no request or task code may use this alias; the
runtime backend (``qiro.db.backends.runtime``) serves those.

A migration's SQL script runs one statement per execute (``qiro.db.statements``),
which Citus requires and plain PostgreSQL does not mind.
"""

from django_tenants.postgresql_backend import base as tenants_base

from qiro.db.backends.common import EmbeddedServerMixin, QuietHealthCheckMixin
from qiro.db.statements import split_statements


class DatabaseOperations(tenants_base.DatabaseWrapper.ops_class):
    def prepare_sql_script(self, sql: str) -> list[str]:
        return split_statements(sql)


class DatabaseWrapper(QuietHealthCheckMixin, EmbeddedServerMixin, tenants_base.DatabaseWrapper):
    ops_class = DatabaseOperations
