"""The warm pool is filled by cloning one migrated schema: the clones equal it, catalog for catalog.

A fill runs the migrations for one schema (the template) and replays its
``pg_dump`` DDL, renamed, for the others. These tests compare every catalog of
a clone with the template's (``tests.tenants.catalog``), show that the
comparison notices each kind of damage, that a company provisioned from a
clone works and stays walled off, that a clone is made whole or not at all,
and that without pg_dump the pool is still filled, by migrations.
"""

from __future__ import annotations

import logging
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connections, transaction
from psycopg import sql

from qiro import tenant_context
from qiro.db import pg, secure
from qiro.db.roles import role_name
from sysauth import actions as sysauth_actions
from sysauth.models import Role, RolePermissionHistory, User
from tenants import pool_take, provisioning, schema_pool
from tenants.models import Company
from tests.tenants.catalog import differences, schema_catalog
from tests.tenants.pool_fill import ADMIN, clones_from_a_dump, fill, ready_pool, run

__all__ = ["clones_from_a_dump", "fill"]  # fixtures, used by name


@pytest.mark.usefixtures("clones_from_a_dump")
def test_a_fill_migrates_one_schema_and_clones_the_others_equal_to_it(fill):
    built = fill(4)
    template, clones = built[0], built[1:]
    assert fill.migrated == [template]
    assert fill.cloned == [(template, name) for name in clones]
    assert sorted(ready_pool()) == sorted(built)

    expected = schema_catalog(template, state=True)
    # The comparison has something to compare in every kind it reads.
    for kind, entries in expected.items():
        if kind != "comments":  # the company apps declare no comments today
            assert entries, kind
    forced = {row[0] for row in expected["tables"] if row[2] and row[3]}
    assert forced == secure.company_tables()
    assert {row[0] for row in expected["enum_types"]} >= {"session_status", "user_type"}
    assert {row[4] for row in expected["triggers"]} == {
        "<schema>.record_role_permissions_change"
    }, "the triggers call the function of their own schema"
    assert ("relation", "sysauth_rolepermissionhistory", role_name("app"), "INSERT", False) in (
        expected["privileges"]
    )
    assert ("relation", "sysauth_rolepermissionhistory", role_name("app"), "UPDATE", False) not in (
        expected["privileges"]
    )
    states = dict(expected["sequence_state"])
    assert states.pop("django_migrations_id_seq") == len(expected["django_migrations"])
    assert set(states.values()) == {None}, "sequences start afresh"

    for clone in clones:
        assert differences(expected, schema_catalog(clone, state=True)) == {}, clone


@pytest.mark.usefixtures("clones_from_a_dump")
def test_a_fill_reuses_a_ready_pool_schema_as_its_template(fill):
    (first,) = fill(1)
    assert fill.migrated == [first]
    assert fill.cloned == []
    added = fill(3)
    assert fill.migrated == []
    assert fill.cloned == [(first, name) for name in added]
    expected = schema_catalog(first, state=True)
    for name in added:
        assert differences(expected, schema_catalog(name, state=True)) == {}, name


@pytest.mark.usefixtures("clones_from_a_dump")
def test_a_pool_schema_being_handed_out_is_no_template(fill):
    """A provisioning's lock on a pool schema (``take_schema``) keeps a fill from dumping it."""
    (taken,) = fill(1)
    with pg.connect(autocommit=False) as other:
        other.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [taken])
        added = fill(3)
        other.rollback()
    assert fill.migrated == [added[0]]
    assert fill.cloned == [(added[0], name) for name in added[1:]]
    assert taken in ready_pool()


def test_a_template_being_dumped_is_not_handed_out(fill):
    """The converse: a fill's shared lock on its template makes ``take_schema`` pass it by."""
    (template,) = fill(1)
    with pg.connect(autocommit=False) as other:
        other.execute("SELECT pg_advisory_xact_lock_shared(hashtext(%s))", [template])
        with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
            assert not pool_take.take_schema(cursor, "never_made")
        other.rollback()
    assert ready_pool() == [template]


# Each damage, done to one clone, must show in these kinds of the comparison and no others.
DAMAGE = {
    "FORCE lost": (
        "ALTER TABLE {clone}.sysauth_user NO FORCE ROW LEVEL SECURITY",
        {"tables"},
    ),
    "row security disabled": (
        "ALTER TABLE {clone}.sysauth_session DISABLE ROW LEVEL SECURITY",
        {"tables"},
    ),
    "policy for another role": (
        "ALTER POLICY qiro_company_isolation ON {clone}.sysauth_role TO {app}",
        {"policies"},
    ),
    "trigger disabled": (
        "ALTER TABLE {clone}.sysauth_userrole DISABLE TRIGGER record_role_permissions_change",
        {"triggers"},
    ),
    "trigger calling the template's function": (
        "DROP TRIGGER record_role_permissions_change ON {clone}.sysauth_userrole; "
        "CREATE TRIGGER record_role_permissions_change "
        "AFTER INSERT OR DELETE OR UPDATE ON {clone}.sysauth_userrole "
        "FOR EACH ROW EXECUTE FUNCTION {template}.record_role_permissions_change()",
        {"triggers"},
    ),
    "function changed": (
        "ALTER FUNCTION {clone}.record_role_permissions_change() SECURITY DEFINER",
        {"functions"},
    ),
    "enum value added": (
        "ALTER TYPE {clone}.session_status ADD VALUE 'paused'",
        {"enum_types"},
    ),
    "column type changed": (
        "ALTER TABLE {clone}.sysauth_user ALTER COLUMN full_name TYPE varchar(151)",
        {"columns"},
    ),
    "company default lost": (
        "ALTER TABLE {clone}.sysauth_role ALTER COLUMN company_id DROP DEFAULT",
        {"columns"},
    ),
    "constraint added": (
        "ALTER TABLE {clone}.sysauth_user ADD CONSTRAINT extra CHECK (true) NOT VALID",
        {"constraints"},
    ),
    "index dropped": (
        "DROP INDEX {clone}.sysauth_userrole_by_role",
        {"indexes", "owners"},
    ),
    "sequence changed": (
        "ALTER TABLE {clone}.sysauth_user ALTER COLUMN id SET INCREMENT BY 2",
        {"sequences"},
    ),
    "sequence used": (
        "SELECT setval('{clone}.sysauth_role_id_seq', 7)",
        {"sequence_state"},
    ),
    "runtime role may rewrite history": (
        "GRANT UPDATE ON {clone}.sysauth_rolepermissionhistory TO {app}",
        {"privileges", "grants"},
    ),
    "migration record missing": (
        "DELETE FROM {clone}.django_migrations "
        "WHERE id = (SELECT max(id) FROM {clone}.django_migrations)",
        {"django_migrations"},
    ),
    "comment added": (
        "COMMENT ON COLUMN {clone}.sysauth_user.email IS 'x'",
        {"comments"},
    ),
}


@pytest.mark.usefixtures("clones_from_a_dump")
def test_the_comparison_sees_each_kind_of_damage_to_a_clone(fill):
    built = fill(1 + len(DAMAGE))
    template = built[0]
    expected = schema_catalog(template, state=True)
    for (label, (statement, kinds)), clone in zip(DAMAGE.items(), built[1:], strict=True):
        assert differences(expected, schema_catalog(clone, state=True)) == {}, label
        run(
            sql.SQL(statement).format(
                clone=sql.Identifier(clone),
                template=sql.Identifier(template),
                app=sql.Identifier(role_name("app")),
            )
        )
        assert set(differences(expected, schema_catalog(clone, state=True))) == kinds, label


@pytest.mark.usefixtures("clones_from_a_dump")
def test_a_clone_outlives_its_template_and_becomes_a_working_company(fill, two_companies):
    other = two_companies[0].company
    template, clone = fill(2)
    assert fill.cloned == [(template, clone)]
    before = schema_catalog(clone, state=True)
    schema_pool.drop_schema(template)  # CASCADE: would take anything of the clone that used it
    assert differences(before, schema_catalog(clone, state=True)) == {}

    timings = provisioning.ProvisioningTimings()
    company = provisioning.provision_company(
        name="복제 주식회사", business_registration_number="3312345674", schema_name="cloned",
        domain="cloned.localhost", first_admin=ADMIN, timings=timings,
    )  # fmt: skip
    try:
        assert timings.from_pool
        assert company.status == Company.Status.ACTIVE
        assert clone not in ready_pool()
        # A row of another company, planted in this schema even by the owner: refused.
        with pytest.raises(DatabaseError, match="qiro_company_only"), transaction.atomic("owner"):
            run(
                sql.SQL(
                    "INSERT INTO {} (password, company_id, email, full_name, user_type, is_active, "
                    "is_staff, is_superuser, date_joined) "
                    "VALUES ('!', %s, 'planted@example.kr', 'x', 'member', true, false, false, "
                    "now())"
                ).format(sql.Identifier("cloned", "sysauth_user")),
                [other.pk],
            )
        with tenant_context.company_context(company):
            admin = User.objects.get()
            assert admin.email == "admin@cloned.example.kr"
            member_role = Role.objects.get(name=Role.MEMBER)
            member = sysauth_actions.create_user(
                email="member@cloned.example.kr", full_name="직원", password=None,
                roles=[member_role], acting_user=admin,
            )  # fmt: skip
            sysauth_actions.unassign_role(user=member, role=member_role, acting_user=admin)
            assert sorted(User.objects.values_list("email", flat=True)) == [
                "admin@cloned.example.kr",
                "member@cloned.example.kr",
            ]
            assert set(User.objects.values_list("company_id", flat=True)) == {company.pk}
            history = list(RolePermissionHistory.objects.filter(user_id=member.pk).order_by("id"))
            with pytest.raises(DatabaseError, match="row-level security"):
                User.objects.create(
                    email="intruder@cloned.example.kr", full_name="x", company_id=other.pk
                )
        assert [(h.operation, h.table_name, h.actor_id) for h in history] == [
            ("INSERT", "sysauth_userrole", admin.pk),
            ("DELETE", "sysauth_userrole", admin.pk),
        ]
        assert {h.company_id for h in history} == {company.pk}
        # The history is written by the company schema's own function, into its own table.
        assert run(
            sql.SQL(
                "SELECT DISTINCT p.pronamespace::regnamespace::text FROM pg_trigger t "
                "JOIN pg_proc p ON p.oid = t.tgfoid "
                "WHERE NOT t.tgisinternal AND t.tgrelid = ANY(%s::regclass[])"
            ),
            [["cloned.sysauth_userrole", "cloned.sysauth_rolepermission"]],
        ) == [("cloned",)]
        assert run(
            sql.SQL("SELECT DISTINCT company_id FROM {}").format(
                sql.Identifier("cloned", "sysauth_rolepermissionhistory")
            )
        ) == [(company.pk,)]
        with tenant_context.company_context(other):
            assert not User.objects.filter(email__endswith="@cloned.example.kr").exists()
    finally:
        Company.objects.using("owner").filter(schema_name="cloned").delete()
        schema_pool.drop_schema("cloned")


class Interrupted(Exception):
    pass


@pytest.mark.usefixtures("clones_from_a_dump")
def test_an_interrupted_clone_leaves_no_schema(fill, monkeypatch):
    """The DDL, migration records, row security, grants and comment of a clone commit together."""
    mark_ready = schema_pool._mark_ready

    def interrupt_after_the_template(cursor: Any, name: str) -> None:
        mark_ready(cursor, name)
        if fill.migrated and name != fill.migrated[0]:
            raise Interrupted(name)

    monkeypatch.setattr(schema_pool, "_mark_ready", interrupt_after_the_template)
    with pytest.raises(Interrupted) as interrupted:
        fill(3)
    (template,) = fill.migrated
    with connections["owner"].cursor() as cursor:
        assert schema_pool.pool_schemas(cursor, current_only=False) == [template]
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [str(interrupted.value)])
        assert cursor.fetchone() is None


def no_pg_dump(name: str, major: int) -> pg.Tool:
    raise pg.ToolNotFound(f"no {name} {major} here")


def failing_pg_dump(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("pg_dump failed (1): injected")


@pytest.mark.parametrize(
    ("patched", "replacement", "warning"),
    [("find_tool", no_pg_dump, "no pg_dump"), ("run_tool", failing_pg_dump, "pg_dump failed")],
    ids=["not installed", "dump fails"],
)
@pytest.mark.usefixtures("clones_from_a_dump")
def test_without_pg_dump_every_schema_is_built_by_migrations(
    fill, monkeypatch, caplog, patched, replacement, warning
):
    monkeypatch.setattr(pg, patched, replacement)
    with caplog.at_level(logging.WARNING, logger="tenants.schema_pool"):
        built = fill(2)
    assert fill.migrated == built
    assert fill.cloned == []
    assert sorted(ready_pool()) == sorted(built)
    assert [r.getMessage() for r in caplog.records if warning in r.getMessage()], caplog.text
    assert (
        differences(schema_catalog(built[0], state=True), schema_catalog(built[1], state=True))
        == {}
    )


def test_the_template_name_is_replaced_as_a_whole_identifier_only():
    template = schema_pool.Template(
        "qiro_pool_00000000000a",
        "CREATE TABLE qiro_pool_00000000000a.t (x regclass DEFAULT "
        "'qiro_pool_00000000000a.s'::regclass);\n"
        'GRANT USAGE ON SCHEMA "qiro_pool_00000000000a" TO qiro_pool_00000000000a_app;\n'
        "COMMENT ON TABLE x IS 'xqiro_pool_00000000000a$y';",
        [],
    )
    assert template.ddl_for("qiro_pool_0000000000bb") == (
        "CREATE TABLE qiro_pool_0000000000bb.t (x regclass DEFAULT "
        "'qiro_pool_0000000000bb.s'::regclass);\n"
        'GRANT USAGE ON SCHEMA "qiro_pool_0000000000bb" TO qiro_pool_00000000000a_app;\n'
        "COMMENT ON TABLE x IS 'xqiro_pool_00000000000a$y';"
    )
    with pytest.raises(ValueError, match="not pool schema names"):
        template.ddl_for("acme")


def test_the_fill_leaves_djangos_owner_connection_as_it_found_it(fill):
    """The dump's session settings (an empty search path) stay on the fill's own connection."""
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        before = cursor.fetchone()
    fill(3)
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        assert cursor.fetchone() == before


@pytest.mark.usefixtures("clones_from_a_dump")
def test_the_command_can_be_told_to_run_the_migrations_for_every_schema(fill):
    call_command("fill_schema_pool", size=2, by_migrations=True, stdout=StringIO())
    assert len(fill.migrated) == 2
    assert fill.cloned == []
    call_command("fill_schema_pool", size=4, stdout=StringIO())
    assert len(fill.migrated) == 2
    assert len(fill.cloned) == 2
