"""Fast provisioning from the warm schema pool: equal to a migrated schema, all-or-nothing."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, connections
from django.utils import translation

from qiro import tenant_context
from sysauth.models import User
from tenants import provisioning, schema_pool, services
from tenants.models import Company, Domain
from tests.tenants.catalog import schema_catalog

PASSWORD_HASH = make_password("Qiro-provision-2026!")
ADMIN = provisioning.FirstAdministrator(
    email="Owner@Example.kr", full_name="대표 관리자", password_hash=PASSWORD_HASH
)


def schema_exists(name: str) -> bool:
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def pool_size() -> int:
    with connections["owner"].cursor() as cursor:
        return len(schema_pool.pool_schemas(cursor, current_only=True))


def remove_company(schema_name: str) -> None:
    Company.objects.using("owner").filter(schema_name=schema_name).delete()
    schema_pool.drop_schema(schema_name)


def provision(slug: str, brn: str, **kwargs):
    return provisioning.provision_company(
        name=f"{slug} 주식회사",
        business_registration_number=brn,
        schema_name=slug,
        domain=f"{slug}.localhost",
        first_admin=ADMIN,
        **kwargs,
    )


def test_a_pool_schema_becomes_an_active_company_with_its_administrator(live_db):
    schema_pool.fill_schema_pool(size=1)
    timings = provisioning.ProvisioningTimings()
    company = provision("pooled", "3012345675", timings=timings)
    try:
        assert timings.from_pool
        assert company.status == Company.Status.ACTIVE
        assert company.user_count == 1
        assert company.schema_size_bytes > 0
        assert Domain.objects.using("owner").get(tenant=company).domain == "pooled.localhost"
        with tenant_context.company_context(company):
            admin = User.objects.get()
        assert (admin.email, admin.company_id, admin.is_superuser) == (
            "owner@example.kr",
            company.pk,
            True,
        )
        assert admin.password == PASSWORD_HASH
        with connections["owner"].cursor() as cursor:
            provisioning.verify_schema(cursor, "pooled")
            cursor.execute("SELECT obj_description(%s::regnamespace, 'pg_namespace')", ["pooled"])
            assert cursor.fetchone() == (None,)
    finally:
        remove_company("pooled")


def test_a_fast_provisioned_schema_equals_a_migrated_one(live_db):
    """From a cloned pool schema (the fill's template, built by migrations, is dropped first)."""
    with connections["owner"].cursor() as cursor:
        for name in schema_pool.pool_schemas(cursor, current_only=False):
            schema_pool.drop_schema(name)
    template, _clone = schema_pool.fill_schema_pool(size=2)
    schema_pool.drop_schema(template)
    timings = provisioning.ProvisioningTimings()
    provision("fastcopy", "4012345671", timings=timings)
    assert timings.from_pool
    services.create_company_with_migrations(
        name="느린 회사", business_registration_number="5012345678", schema_name="slowcopy",
        domain="slowcopy.localhost",
    )  # fmt: skip
    try:
        fast_catalog, slow_catalog = schema_catalog("fastcopy"), schema_catalog("slowcopy")
        assert fast_catalog["tables"], "the comparison needs tables to compare"
        assert any(row[3] for row in fast_catalog["tables"]), "FORCE flags are compared"
        assert fast_catalog["policies"]
        for kind in fast_catalog:
            assert fast_catalog[kind] == slow_catalog[kind], kind
    finally:
        remove_company("fastcopy")
        remove_company("slowcopy")


def test_the_catalog_comparison_sees_a_missing_force_flag(live_db):
    """The diff can fail: remove FORCE from one table of a copy and it shows."""
    schema_pool.fill_schema_pool(size=2)
    provision("difa", "6012345674")
    provision("difb", "7012345670")
    try:
        with connections["owner"].cursor() as cursor:
            cursor.execute("ALTER TABLE difb.sysauth_user NO FORCE ROW LEVEL SECURITY")
        assert schema_catalog("difa")["tables"] != schema_catalog("difb")["tables"]
    finally:
        remove_company("difa")
        remove_company("difb")


STEPS = [
    "prepare_schema",
    "create_company_rows",
    "secure_schema",
    "verify_schema",
    "create_first_administrator",
    "activate",
]


@pytest.mark.parametrize("step", STEPS)
def test_a_failure_at_any_step_leaves_nothing_and_can_be_retried(live_db, monkeypatch, step):
    schema_pool.fill_schema_pool(size=2)
    original = getattr(provisioning, step)

    def fail(*args, **kwargs):
        if step in ("prepare_schema",):
            raise DatabaseError(f"injected failure in {step}")
        original(*args, **kwargs)  # the step did its work, then something broke
        raise DatabaseError(f"injected failure in {step}")

    monkeypatch.setattr(provisioning, step, fail)
    with pytest.raises(DatabaseError, match="injected"):
        provision("halfway", "8012345677")
    assert not schema_exists("halfway")
    assert not Company.objects.using("owner").filter(schema_name="halfway").exists()
    assert not Domain.objects.using("owner").filter(domain="halfway.localhost").exists()

    monkeypatch.undo()
    company = provision("halfway", "8012345677")
    try:
        assert company.status == Company.Status.ACTIVE
        with tenant_context.company_context(company):
            assert User.objects.count() == 1
    finally:
        remove_company("halfway")


def test_a_company_left_half_made_by_a_crash_is_cleared_by_the_retry(live_db):
    schema_pool.fill_schema_pool(size=1)
    with connections["owner"].cursor() as cursor:
        cursor.execute("CREATE SCHEMA crashed")
    Company.objects.using("owner").create(
        name="x", business_registration_number="9012345673", schema_name="crashed",
        status=Company.Status.PROVISIONING,
    )  # fmt: skip
    company = provision("crashed", "9012345673")
    try:
        assert company.status == Company.Status.ACTIVE
    finally:
        remove_company("crashed")


def test_provisioning_never_touches_an_existing_schema(live_db, two_companies):
    a, _ = two_companies
    with (
        translation.override("en"),
        pytest.raises(provisioning.SchemaTakenError, match="already exists"),
    ):
        provision(a.company.schema_name, "1012345679")
    assert schema_exists(a.company.schema_name)
    a.company.refresh_from_db()
    assert a.company.status == Company.Status.ACTIVE


def test_an_empty_pool_falls_back_to_migrations(live_db):
    with connections["owner"].cursor() as cursor:
        for name in schema_pool.pool_schemas(cursor, current_only=False):
            schema_pool.drop_schema(name)
    timings = provisioning.ProvisioningTimings()
    company = provision("nopool", "1112345675", timings=timings)
    try:
        assert not timings.from_pool
        assert company.status == Company.Status.ACTIVE
    finally:
        remove_company("nopool")


def test_outdated_pool_schemas_are_never_handed_out_and_are_replaced(live_db):
    schema_pool.fill_schema_pool(size=1)
    with connections["owner"].cursor() as cursor:
        (name,) = schema_pool.pool_schemas(cursor, current_only=True)[:1]
        cursor.execute(f"COMMENT ON SCHEMA \"{name}\" IS 'qiro-pool:outdated'")
        assert schema_pool.pool_schemas(cursor, current_only=True) == []
    schema_pool.fill_schema_pool(size=1)
    assert not schema_exists(name)
    assert pool_size() == 1


def test_row_security_lost_in_a_pool_schema_is_reapplied_before_activation(live_db):
    """A copy may drop FORCE and policies: provisioning puts them back and checks them."""
    with connections["owner"].cursor() as cursor:
        for name in schema_pool.pool_schemas(cursor, current_only=False):
            schema_pool.drop_schema(name)
    (name,) = schema_pool.fill_schema_pool(size=1)
    with connections["owner"].cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{name}".sysauth_user NO FORCE ROW LEVEL SECURITY')
        cursor.execute(f'DROP POLICY qiro_company_isolation ON "{name}".sysauth_user')
    company = provision("healed", "2212345679")
    try:
        with connections["owner"].cursor() as cursor:
            provisioning.verify_schema(cursor, "healed")
            cursor.execute(
                "SELECT relforcerowsecurity FROM pg_class "
                "WHERE oid = 'healed.sysauth_user'::regclass"
            )
            assert cursor.fetchone() == (True,)
        assert company.status == Company.Status.ACTIVE
    finally:
        remove_company("healed")


def test_verification_refuses_a_schema_without_force_or_policy(live_db, two_companies):
    a, _ = two_companies
    schema = a.company.schema_name
    with connections["owner"].cursor() as cursor:
        provisioning.verify_schema(cursor, schema)
        cursor.execute(f'ALTER TABLE "{schema}".sysauth_user NO FORCE ROW LEVEL SECURITY')
        try:
            with pytest.raises(provisioning.ProvisioningError, match="sysauth_user"):
                provisioning.verify_schema(cursor, schema)
        finally:
            cursor.execute(f'ALTER TABLE "{schema}".sysauth_user FORCE ROW LEVEL SECURITY')
        with pytest.raises(provisioning.ProvisioningError, match="cannot use"):
            provisioning.verify_schema(cursor, "no_such_schema")


def test_a_fill_leaves_a_concurrent_build_alone_but_drops_an_abandoned_one(live_db):
    with connections["owner"].cursor() as cursor:
        for name, started in (("qiro_pool_building", time.time()), ("qiro_pool_abandoned", 0)):
            cursor.execute(f'CREATE SCHEMA "{name}"')
            cursor.execute(
                f"COMMENT ON SCHEMA \"{name}\" IS '{schema_pool.BUILDING_PREFIX}{int(started)}'"
            )
        assert schema_pool.pool_schemas(cursor, current_only=True) == []
    schema_pool.fill_schema_pool(size=0)
    assert schema_exists("qiro_pool_building")
    assert not schema_exists("qiro_pool_abandoned")
    schema_pool.drop_schema("qiro_pool_building")
