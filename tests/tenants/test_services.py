"""Creating a company is all-or-nothing and leaves a schema behind both walls."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connections

from qiro import rls
from tenants import provisioning, services
from tenants.models import Company


def schema_exists(name: str) -> bool:
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def test_a_new_company_schema_has_row_security_and_grants(live_db):
    company = services.create_company_with_migrations(
        name="감마 주식회사", business_registration_number="1010101010", schema_name="gamma",
        domain="Gamma.localhost",
    )  # fmt: skip
    try:
        with connections["owner"].cursor() as cursor:
            assert [row for row in rls.missing_row_security(cursor) if row[0] == "gamma"] == []
        assert company.domains.get().domain == "gamma.localhost"
    finally:
        Company.objects.using("owner").filter(pk=company.pk).delete()
        with connections["owner"].cursor() as cursor:
            cursor.execute("DROP SCHEMA gamma CASCADE")


@pytest.mark.parametrize("step", ["migrate_schemas", "secure_schema", "domain"])
def test_a_failure_at_any_step_leaves_no_half_company(live_db, monkeypatch, step):
    def fail(*args, **kwargs):
        raise DatabaseError(f"injected failure in {step}")

    if step == "migrate_schemas":
        monkeypatch.setattr(provisioning.schema_pool, "call_command", fail)
    elif step == "secure_schema":
        monkeypatch.setattr(provisioning, "secure_schema", fail)
    else:
        monkeypatch.setattr(provisioning.Domain.objects, "create", fail)

    with pytest.raises(DatabaseError, match="injected"):
        services.create_company_with_migrations(
            name="델타", business_registration_number="2020202020", schema_name="delta",
            domain="delta.localhost",
        )  # fmt: skip
    assert not schema_exists("delta")
    assert not Company.objects.using("owner").filter(schema_name="delta").exists()

    monkeypatch.undo()  # and the same company can then be created
    company = services.create_company_with_migrations(
        name="델타", business_registration_number="2020202020", schema_name="delta",
        domain="delta.localhost",
    )  # fmt: skip
    Company.objects.using("owner").filter(pk=company.pk).delete()
    with connections["owner"].cursor() as cursor:
        cursor.execute("DROP SCHEMA delta CASCADE")


def test_company_migrations_run_backwards_and_forwards(live_db):
    """Every company-schema migration is reversible (its reverse_sql is run, not trusted)."""
    from django.core.management import call_command

    with connections["owner"].cursor() as cursor:
        cursor.execute("CREATE SCHEMA reversible")
    try:
        call_command("migrate_schemas", schema_name="reversible", interactive=False, verbosity=0)
        call_command(
            "migrate_schemas", "sysauth", "zero", schema_name="reversible", interactive=False,
            verbosity=0,
        )  # fmt: skip
        with connections["owner"].cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'reversible' AND c.relname = 'sysauth_user'"
            )
            assert cursor.fetchone() == (0,)
            cursor.execute(
                "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE n.nspname = 'reversible' AND t.typname = 'user_type'"
            )
            assert cursor.fetchone() == (0,)
        call_command("migrate_schemas", schema_name="reversible", interactive=False, verbosity=0)
    finally:
        connections["owner"].set_schema_to_public()  # type: ignore[attr-defined]
        with connections["owner"].cursor() as cursor:
            cursor.execute("DROP SCHEMA reversible CASCADE")
