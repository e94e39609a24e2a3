"""The company's audit log: one row per action in its transaction, append-only, walled in."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, transaction
from django.test import RequestFactory
from django.utils import timezone
from psycopg import sql

from qiro import tenant_context
from qiro.db.roles import apply_company_schema_grants, role_name
from sysauth import actions, audit
from sysauth.hierarchy import EscalationRefused
from sysauth.models import AuditEntry, Role, Session, User
from sysauth.models_audit import AuditAction, AuditOutcome
from tests.conftest import CompanyWithUsers
from tests.sysauth.conftest import new_company

TABLE = "sysauth_auditentry"


@pytest.fixture
def made(live_db) -> Iterator[CompanyWithUsers]:
    company = new_company("aud")
    with tenant_context.company_context(company.company):
        yield company
    tenant_context.clear()


def audit_rows() -> list[AuditEntry]:
    return list(AuditEntry.objects.order_by("id"))


def reset_request() -> Any:
    return RequestFactory().get("/", HTTP_HOST="localhost")


def new_user(made: CompanyWithUsers, name: str) -> User:
    return actions.create_user(
        email=f"{name}@{made.company.schema_name}.example.kr", full_name=name, password=None,
        acting_user=None,
    )  # fmt: skip


def new_session(user: User) -> Session:
    return Session.objects.create(
        user=user, key_hash=secrets.token_hex(32), expires_at=timezone.now() + timedelta(hours=1)
    )


# Each entry: the action's name, and a call of it given the company and a fresh user.
ACTIONS: list[tuple[str, Callable[[CompanyWithUsers, User], Any]]] = [
    ("role.assign", lambda m, u: actions.assign_role(
        user=u, role=Role.objects.get(name=Role.ADMIN), acting_user=m.owner)),
    ("role.unassign", lambda m, u: actions.unassign_role(
        user=m.member, role=Role.objects.get(name=Role.MEMBER), acting_user=m.owner)),
    ("user.create", lambda m, u: new_user(m, "second")),
    ("user.update", lambda m, u: actions.update_user(
        user=u, email=u.email, full_name="새 이름", user_type=u.user_type, acting_user=m.owner)),
    ("user.deactivate", lambda m, u: actions.deactivate_user(user=u, acting_user=m.owner)),
    ("user.delete", lambda m, u: actions.delete_user(user=u, acting_user=m.owner)),
    ("user.password_reset", lambda m, u: actions.send_password_reset_email(
        user=u, request=reset_request(), acting_user=m.owner)),
    ("role.save", lambda m, u: actions.save_role(
        role=Role(name="reader"), codenames=["sysauth.view_user"], acting_user=m.owner)),
    ("role.permissions", lambda m, u: actions.set_role_permissions(
        role=Role.objects.get(name=Role.MEMBER), codenames=["sysauth.view_user"],
        acting_user=m.owner)),
    ("role.delete", lambda m, u: actions.delete_role(
        role=Role.objects.create(name="temporary"), acting_user=m.owner)),
    ("role.defaults", lambda m, u: actions.ensure_default_roles(acting_user=None)),
    ("session.revoke", lambda m, u: actions.revoke_session(
        session=new_session(u), reason="test", acting_user=m.owner)),
    ("session.revoke_user", lambda m, u: actions.revoke_user_sessions(
        user=u, reason="test", acting_user=m.owner)),
    ("session.revoke_company", lambda m, u: actions.revoke_company_sessions(
        reason="test", acting_user=None)),
    ("session.sign_out", lambda m, u: actions.sign_out_session(
        user=u, session_pk=new_session(u).pk)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "act"), ACTIONS, ids=[name for name, _ in ACTIONS])
def test_each_company_action_writes_exactly_one_audit_row(made, mailoutbox, name, act):
    user = new_user(made, "target")
    before = audit_rows()
    act(made, user)
    added = audit_rows()[len(before) :]
    assert [row.action for row in added] == [name]
    row = added[0]
    assert row.company_id == made.company.pk
    assert row.action_label != row.action  # every recorded action has a translated name
    if row.acting_user_id == made.owner.pk:
        assert row.acting_email == made.owner.email


def test_the_row_names_the_actor_and_target_as_they_were(made):
    user = new_user(made, "renamed")
    actions.update_user(
        user=user, email="renamed-later@example.kr", full_name="바뀐 이름",
        user_type=user.user_type, acting_user=made.owner,
    )  # fmt: skip
    row = AuditEntry.objects.latest("id")
    assert row.action == AuditAction.USER_UPDATE
    assert (row.acting_user_id, row.acting_email) == (made.owner.pk, made.owner.email)
    assert (row.target_type, row.target_id) == ("sysauth.user", str(user.pk))
    assert row.details["before"]["email"] == user.email
    assert row.details["after"]["email"] == "renamed-later@example.kr"
    actions.delete_user(user=User.objects.get(pk=user.pk), acting_user=made.owner)
    # create, update, delete: the entries outlive the user they name
    assert (
        AuditEntry.objects.filter(target_id=str(user.pk), target_type="sysauth.user").count() == 3
    )


def test_saving_without_a_change_is_recorded_as_unchanged(made):
    user = new_user(made, "same")
    actions.update_user(
        user=user, email=user.email, full_name=user.full_name, user_type=user.user_type,
        acting_user=made.owner,
    )  # fmt: skip
    assert AuditEntry.objects.latest("id").outcome == AuditOutcome.UNCHANGED


REFUSED: list[tuple[str, Callable[[CompanyWithUsers], Any]]] = [
    ("escalation", lambda m: actions.assign_role(
        user=m.member, role=Role.objects.get(name=Role.OWNER), acting_user=m.member)),
    ("owner role", lambda m: actions.delete_role(
        role=Role.objects.get(name=Role.OWNER), acting_user=m.owner)),
    ("last owner", lambda m: actions.deactivate_user(user=m.owner, acting_user=m.owner)),
    ("bulk with the last owner", lambda m: actions.delete_users(
        users=[m.member, m.owner], acting_user=m.owner)),
    ("reset of an owner", lambda m: actions.send_password_reset_email(
        user=m.owner, request=reset_request(), acting_user=m.member)),
]  # fmt: skip


@pytest.mark.parametrize(("label", "refused"), REFUSED, ids=[label for label, _ in REFUSED])
def test_a_refused_action_writes_no_audit_row_and_changes_nothing(made, mailoutbox, label, refused):
    before = len(audit_rows())
    with pytest.raises(ValidationError):
        refused(made)
    assert len(audit_rows()) == before
    assert User.objects.filter(pk=made.member.pk).exists(), "a bulk refusal kept a deletion"
    assert User.objects.get(pk=made.owner.pk).is_active
    assert mailoutbox == []


def test_an_escalation_is_refused_as_such(made):
    with pytest.raises(EscalationRefused):
        actions.assign_role(
            user=made.member, role=Role.objects.get(name=Role.OWNER), acting_user=made.member
        )


@contextmanager
def audit_insert_refused(made: CompanyWithUsers) -> Iterator[None]:
    """The runtime role loses INSERT on the company's audit table: every action must fail."""
    schema = made.company.schema_name
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            sql.SQL("REVOKE INSERT ON {} FROM {}").format(
                sql.Identifier(schema, TABLE), sql.Identifier(role_name("app"))
            )
        )
    try:
        yield
    finally:
        with connections["owner"].cursor() as cursor:
            apply_company_schema_grants(cursor, schema)


def test_a_change_whose_audit_row_fails_is_rolled_back_whole(made):
    """The audit row and the change commit together: without the row, no deactivation."""
    user = new_user(made, "kept")
    session = new_session(user)
    with audit_insert_refused(made), pytest.raises(DatabaseError, match="permission denied"):
        actions.deactivate_user(user=user, acting_user=made.owner)
    assert User.objects.get(pk=user.pk).is_active
    assert Session.objects.get(pk=session.pk).status == "active"


def test_a_rolled_back_reset_sends_no_mail_and_a_committed_one_does(made, mailoutbox):
    user = new_user(made, "mailed")
    with audit_insert_refused(made), pytest.raises(DatabaseError, match="permission denied"):
        actions.send_password_reset_email(user=user, request=reset_request(), acting_user=None)
    assert mailoutbox == [], "the mail left although its transaction rolled back"
    actions.send_password_reset_email(user=user, request=reset_request(), acting_user=None)
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_an_action_is_never_part_of_an_outer_transaction(made):
    """Durable: an action is its own transaction, so its audit row commits with it."""
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic(using="default"):
        actions.revoke_user_sessions(user=made.member, reason="nested", acting_user=None)


def test_an_audit_row_is_never_written_outside_a_transaction(made):
    with pytest.raises(RuntimeError, match="inside its action's transaction"):
        audit.record(using="default", action=AuditAction.USER_UPDATE, acting_user=None)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE sysauth_auditentry SET acting_email = 'someone-else@example.kr'",
        "DELETE FROM sysauth_auditentry",
        "TRUNCATE sysauth_auditentry",
    ],
)
def test_the_runtime_role_cannot_rewrite_the_audit_log(made, statement):
    """Attack: the runtime role tries to erase or alter who did what."""
    actions.revoke_user_sessions(user=made.member, reason="seed", acting_user=made.owner)
    before = [(r.pk, r.acting_email) for r in audit_rows()]
    with (
        connections["default"].cursor() as cursor,
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(using="default"),
    ):
        cursor.execute(statement)
    assert [(r.pk, r.acting_email) for r in audit_rows()] == before


def count_in(schema: str) -> int | None:
    """Rows of ``schema``'s audit table as the current context sees them (None: refused)."""
    with connections["default"].cursor() as cursor:
        try:
            with transaction.atomic(using="default"):
                cursor.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, TABLE))
                )
                return int(cursor.fetchone()[0])
        except DatabaseError:
            return None


def test_company_a_never_sees_the_audit_rows_of_b(live_db):
    """Both walls: A's context reads its own schema only, and B's table, named, yields nothing."""
    a, b = new_company("awa"), new_company("awb")
    with tenant_context.company_context(b.company):
        actions.revoke_user_sessions(user=b.member, reason="b's own", acting_user=b.owner)
        assert AuditEntry.objects.exists()
    with tenant_context.company_context(a.company):
        actions.revoke_user_sessions(user=a.member, reason="a's own", acting_user=a.owner)
        seen = {row.company_id for row in AuditEntry.objects.all()}
        leaked = count_in(b.company.schema_name)
    assert seen == {a.company.pk}
    assert not leaked
    # The control: without B's row security the same read reaches B's rows.
    table = sql.Identifier(b.company.schema_name, TABLE)
    with connections["owner"].cursor() as cursor:
        cursor.execute(sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(table))
    try:
        with tenant_context.company_context(a.company):
            assert count_in(b.company.schema_name), "the row wall was what stopped the read"
    finally:
        with connections["owner"].cursor() as cursor:
            cursor.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(table))
        tenant_context.clear()


def test_an_entry_claiming_another_company_cannot_be_appended(made, other_company):
    """Attack: A's context appends an entry in B's name."""
    with pytest.raises(DatabaseError), transaction.atomic(using="default"):
        AuditEntry.objects.create(company_id=other_company.company.pk, action="user.delete")


def test_ended_sessions_are_counted_in_the_row(made):
    user = new_user(made, "sessions")
    new_session(user)
    assert actions.revoke_user_sessions(user=user, reason="test", acting_user=made.owner) == 1
    assert AuditEntry.objects.latest("id").details["sessions_ended"] == 1
