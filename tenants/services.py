"""Creating companies and their schemas (owner connection)."""

from __future__ import annotations

from django.core.management import call_command
from django.db import connections, transaction
from psycopg import sql

from qiro.db.roles import apply_company_schema_grants
from qiro.rls import reapply_for_schema
from qiro.tenant_context import OWNER_ALIAS, owner_context
from tenants.models import Company, Domain


def create_company_with_migrations(
    *, name: str, business_registration_number: str, schema_name: str, domain: str
) -> Company:
    """Create a company, its domain and a schema built by running every migration.

    All-or-nothing: the schema is built and checked first; the company and
    domain rows are written in one transaction last. If any step fails the
    schema is dropped again, so no half company is left behind.
    """
    connection = connections[OWNER_ALIAS]
    schema = sql.Identifier(schema_name)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
    try:
        # migrate_schemas commits and closes the owner's connection itself,
        # so it cannot run inside the transaction below.
        call_command(
            "migrate_schemas", schema_name=schema_name, tenant=True, interactive=False, verbosity=0
        )
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        with owner_context(), transaction.atomic(using=OWNER_ALIAS):
            with connection.cursor() as cursor:
                reapply_for_schema(cursor, schema_name)
                apply_company_schema_grants(cursor, schema_name)
            company = Company.objects.create(
                name=name,
                business_registration_number=business_registration_number,
                schema_name=schema_name,
            )
            Domain.objects.create(domain=domain.lower(), tenant=company, is_primary=True)
    except BaseException:
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
        raise
    return company
