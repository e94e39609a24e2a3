"""System checks for the project's invariants (``manage.py check``).

qiro.E001  a protected table lacks ENABLE/FORCE row-level security or its policy
qiro.E002  the tenant-context middleware is missing or comes after a database user
qiro.E003  a runtime role can bypass row-level security, is a superuser, or owns objects
qiro.E004  a runtime alias does not use the runtime backend
qiro.E005  a model of a company app holds rows without declaring row security
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db import connections

from qiro.app_labels import tenant_app_labels
from qiro.rls import RowSecurity, missing_row_security

CONTEXT_MIDDLEWARE = "qiro.middleware.TenantContextMiddleware"
MIDDLEWARE_NEEDING_CONTEXT = (
    "django.contrib.sessions.middleware.SessionMiddleware",
    "sysauth.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "sysauth.middleware.AuthenticationMiddleware",
)
# Tables of company apps that have no company column yet, with the reason.
# They are still behind the schema wall.
SCHEMA_WALL_ONLY = {
    "django_admin_log": "Django's admin log; its rows belong to the schema's company",
}


@checks.register(checks.Tags.security)
def check_middleware_order(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    middleware = list(settings.MIDDLEWARE)
    if CONTEXT_MIDDLEWARE not in middleware:
        return [checks.Error(f"{CONTEXT_MIDDLEWARE} is not in MIDDLEWARE.", id="qiro.E002")]
    position = middleware.index(CONTEXT_MIDDLEWARE)
    late = [m for m in MIDDLEWARE_NEEDING_CONTEXT if m in middleware[:position]]
    return [
        checks.Error(
            f"{m} runs before {CONTEXT_MIDDLEWARE} and would query without tenant context.",
            hint="Put the tenant-context middleware first, after SecurityMiddleware.",
            id="qiro.E002",
        )
        for m in late
    ]


@checks.register(checks.Tags.database)
def check_runtime_backends(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"Database alias {alias!r} must use qiro.db.backends.runtime.",
            id="qiro.E004",
        )
        for alias in ("default", "platform")
        if settings.DATABASES[alias]["ENGINE"] != "qiro.db.backends.runtime"
    ]


def company_models_without_row_security(models: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    tenant_apps = tenant_app_labels()
    for model in models:
        if model._meta.app_label not in tenant_apps or model._meta.db_table in SCHEMA_WALL_ONLY:
            continue
        if not isinstance(getattr(model, "row_security", None), RowSecurity):
            errors.append(
                checks.Error(
                    f"{model._meta.label} lives in company schemas but declares no row_security.",
                    hint="Give it a company column and row_security = RowSecurity(...).",
                    obj=model,
                    id="qiro.E005",
                )
            )
    return errors


@checks.register(checks.Tags.models)
def check_company_models_declare_row_security(
    app_configs: Any, **kwargs: Any
) -> list[checks.CheckMessage]:
    return company_models_without_row_security(apps.get_models())


@checks.register(checks.Tags.database)
def check_row_security_installed(
    app_configs: Any, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Runs with ``manage.py check --database owner``: reads the live catalogs."""
    if not databases or "owner" not in databases:
        return []
    from qiro.db.roles import role_name

    errors: list[checks.CheckMessage] = []
    with connections["owner"].cursor() as cursor:
        for schema, table, missing in missing_row_security(cursor):
            errors.append(
                checks.Error(
                    f"{schema}.{table} is missing row-level security: {missing}.",
                    hint="Run migrations, or re-apply with EnableRowSecurity.",
                    id="qiro.E001",
                )
            )
        cursor.execute(
            """
            SELECT r.rolname, r.rolsuper, r.rolbypassrls,
                   EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid)
                   OR EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspowner = r.oid)
            FROM pg_roles r WHERE r.rolname = ANY(%s)
            """,
            [[role_name("app"), role_name("platform")]],
        )
        for name, is_super, bypass, owns in cursor.fetchall():
            if is_super or bypass or owns:
                errors.append(
                    checks.Error(
                        f"Runtime role {name} is a superuser, can bypass RLS or owns objects.",
                        hint="Run manage.py bootstrap to reset the runtime roles.",
                        id="qiro.E003",
                    )
                )
    return errors
