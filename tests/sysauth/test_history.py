"""The permission history: written by the trigger, with the actor, append-only."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connections, transaction
from psycopg import sql

from qiro import tenant_context
from qiro.db.roles import apply_company_schema_grants, apply_public_grants, role_name
from sysauth import actions
from sysauth.models import Role, RolePermission, RolePermissionHistory


def test_orm_assignment_is_recorded_with_its_actor(live_db, company):
    with tenant_context.company_context(company.company):
        admin_role = Role.objects.get(name=Role.ADMIN)
        before = RolePermissionHistory.objects.count()
        actions.assign_role(user=company.member, role=admin_role, acting_user=company.owner)
        actions.unassign_role(user=company.member, role=admin_role, acting_user=company.owner)
        rows = list(RolePermissionHistory.objects.order_by("id"))[before:]
    assert [(r.operation, r.table_name) for r in rows] == [
        ("INSERT", "sysauth_userrole"),
        ("DELETE", "sysauth_userrole"),
    ]
    for row in rows:
        assert row.user_id == company.member.pk
        assert row.role_id == admin_role.pk
        assert row.actor_id == company.owner.pk
        assert row.company_id == company.company.pk
    assert (rows[0].new_values or {})["user_id"] == company.member.pk
    assert (rows[1].old_values or {})["role_id"] == admin_role.pk
    assert rows[1].new_values is None


def test_raw_sql_changes_are_recorded_too(live_db, company):
    """Raw SQL as the runtime role, bypassing the services, is still recorded."""
    with tenant_context.company_context(company.company, actor_id=company.owner.pk):
        role = Role.objects.get(name=Role.MEMBER)
        before = RolePermissionHistory.objects.count()
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "INSERT INTO sysauth_rolepermission (role_id, codename) VALUES (%s, %s)",
                [role.pk, "sysauth.view_session"],
            )
            cursor.execute(
                "UPDATE sysauth_rolepermission SET codename = %s WHERE role_id = %s "
                "AND codename = %s",
                ["sysauth.view_user", role.pk, "sysauth.view_session"],
            )
            cursor.execute(
                "DELETE FROM sysauth_rolepermission WHERE role_id = %s AND codename = %s",
                [role.pk, "sysauth.view_user"],
            )
        rows = list(RolePermissionHistory.objects.order_by("id"))[before:]
    assert [r.operation for r in rows] == ["INSERT", "UPDATE", "DELETE"]
    assert [r.permission for r in rows] == [
        "sysauth.view_session",
        "sysauth.view_user",
        "sysauth.view_user",
    ]
    assert (rows[1].old_values or {})["codename"] == "sysauth.view_session"
    assert {r.actor_id for r in rows} == {company.owner.pk}
    assert {r.role_id for r in rows} == {role.pk}


def test_change_without_actor_records_none(live_db, company):
    with tenant_context.company_context(company.company):
        role = Role.objects.get(name=Role.MEMBER)
        RolePermission.objects.create(role=role, codename="sysauth.view_role")
        RolePermission.objects.filter(role=role, codename="sysauth.view_role").delete()
        last = RolePermissionHistory.objects.order_by("-id").first()
    assert last is not None
    assert last.actor_id is None
    assert last.operation == "DELETE"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE sysauth_rolepermissionhistory SET actor_id = NULL",
        "DELETE FROM sysauth_rolepermissionhistory",
        "TRUNCATE sysauth_rolepermissionhistory",
    ],
)
def test_runtime_role_cannot_rewrite_history(live_db, company, statement):
    """Attack: the runtime role tries to erase or alter who changed what."""
    with tenant_context.company_context(company.company):
        assert RolePermissionHistory.objects.exists()
        before = RolePermissionHistory.objects.count()
        with (
            connections["default"].cursor() as cursor,
            pytest.raises(DatabaseError, match="permission denied"),
            transaction.atomic(),
        ):
            cursor.execute(statement)
        assert RolePermissionHistory.objects.count() == before


def _privileges(schema: str, role: str) -> dict[str, bool]:
    table = sql.Identifier(schema, "sysauth_rolepermissionhistory").as_string(None)
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT p, has_table_privilege(%s, %s, p) FROM unnest(%s::text[]) AS p",
            [role, table, ["SELECT", "INSERT", "UPDATE", "DELETE"]],
        )
        return dict(cursor.fetchall())


def test_append_only_survives_the_grants_after_every_migrate(live_db, company):
    """apply_company_schema_grants grants DML on all tables; the declared narrowing wins."""
    schema = company.company.schema_name
    with connections["owner"].cursor() as cursor:
        apply_company_schema_grants(cursor, schema)
        apply_public_grants(cursor)
    assert _privileges(schema, role_name("app")) == {
        "SELECT": True,
        "INSERT": True,
        "UPDATE": False,
        "DELETE": False,
    }
    # The other company tables keep full DML.
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT has_table_privilege(%s, %s, 'DELETE')",
            [role_name("app"), sql.Identifier(schema, "sysauth_userrole").as_string(None)],
        )
        assert cursor.fetchone()[0] is True
    assert _privileges("public", role_name("platform"))["UPDATE"] is False
    assert _privileges("public", role_name("platform"))["DELETE"] is False


def test_the_history_of_b_is_not_visible_from_a(live_db, company, other_company):
    """Both walls: A's context never reads B's history, even naming B's schema."""
    with tenant_context.company_context(other_company.company, actor_id=other_company.owner.pk):
        role = Role.objects.get(name=Role.ADMIN)
        actions.assign_role(user=other_company.member, role=role, acting_user=None)
    with tenant_context.company_context(company.company):
        seen = {r.company_id for r in RolePermissionHistory.objects.all()}
        with connections["default"].cursor() as cursor:
            try:
                with transaction.atomic():
                    cursor.execute(
                        sql.SQL("SELECT count(*) FROM {}").format(
                            sql.Identifier(
                                other_company.company.schema_name, "sysauth_rolepermissionhistory"
                            )
                        )
                    )
                    leaked = cursor.fetchone()[0]
            except DatabaseError:
                leaked = 0
    assert seen == {company.company.pk}
    assert leaked == 0


def _trigger_count(schema: str) -> int:
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND t.tgname = 'record_role_permissions_change'",
            [schema],
        )
        return cursor.fetchone()[0]


def test_migration_0002_runs_backwards_and_forwards(live_db):
    """The raw SQL of the trigger and the row security reverse cleanly."""
    from django.core.management import call_command

    from tests.sysauth.conftest import new_company

    made = new_company("smig")
    schema = made.company.schema_name
    assert _trigger_count(schema) == 2
    call_command(
        "migrate_schemas", "sysauth", "0001", schema_name=schema, interactive=False, verbosity=0
    )
    assert _trigger_count(schema) == 0
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename = ANY(%s)",
            [schema, ["sysauth_session", "sysauth_rolepermissionhistory", "sysauth_role"]],
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %s AND p.proname = 'record_role_permissions_change'",
            [schema],
        )
        assert cursor.fetchone()[0] == 0
    call_command("migrate_schemas", schema_name=schema, interactive=False, verbosity=0)
    assert _trigger_count(schema) == 2
    connections["owner"].set_schema_to_public()  # type: ignore[attr-defined]
