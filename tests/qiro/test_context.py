"""The runtime backend sets the tenant context per transaction and leaves nothing behind."""

from __future__ import annotations

import pytest
from django.db import connections, transaction
from hypothesis import given
from hypothesis import strategies as st

from qiro import context, tenant_context
from qiro.context import TenantContext
from sysauth.models import User
from tests.conftest import CompanyWithUsers


def settings_seen() -> tuple[str, str, str]:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('qiro.company_id', true), current_setting('search_path'), "
            "current_setting('qiro.actor_id', true)"
        )
        row = cursor.fetchone()
    assert row is not None
    return row


def context_of(member: CompanyWithUsers, actor: User) -> tuple[str, str, str]:
    """What ``settings_seen`` reads in ``member``'s company with ``actor`` acting."""
    return str(member.company.pk), f"{member.company.schema_name}, public", str(actor.pk)


def left_on_the_session() -> str:
    """Read past the runtime wrapper: what a new transaction would start with."""
    raw = connections["default"].connection
    assert raw is not None
    row = raw.execute("SELECT current_setting('qiro.company_id', true)").fetchone()
    assert row is not None
    return str(row[0])


def test_a_statement_outside_a_transaction_runs_in_context_and_leaves_nothing(
    live_db, two_companies
):
    a, _ = two_companies
    with tenant_context.company_context(a.company, actor_id=a.owner.pk):
        assert settings_seen() == context_of(a, a.owner)
        assert left_on_the_session() == ""


def test_no_context_is_public_and_no_company(live_db):
    assert settings_seen() == ("", "public", "")


def test_switching_company_inside_one_transaction_switches_the_context(live_db, two_companies):
    a, b = two_companies
    with transaction.atomic(using="default"):
        with tenant_context.company_context(a.company):
            assert settings_seen()[0] == str(a.company.pk)
        with tenant_context.company_context(b.company):
            assert settings_seen()[0] == str(b.company.pk)
            assert set(User.objects.values_list("email", flat=True)) == {
                b.owner.email,
                b.member.email,
            }
    assert left_on_the_session() == ""


def test_savepoint_rollback_does_not_lose_the_context(live_db, two_companies):
    a, _ = two_companies
    with tenant_context.company_context(a.company), transaction.atomic(using="default"):
        try:
            with transaction.atomic(using="default"):
                assert settings_seen()[0] == str(a.company.pk)
                raise RuntimeError("roll back to the savepoint")
        except RuntimeError:
            pass
        assert settings_seen()[0] == str(a.company.pk)
        assert User.objects.count() == 2


def test_executemany_writes_in_context(live_db, two_companies):
    a, _ = two_companies
    rows = [(f"bulk{i}@acme.example.kr",) for i in range(3)]
    with tenant_context.company_context(a.company):
        with connections["default"].cursor() as cursor:
            cursor.executemany(
                "INSERT INTO sysauth_user (password, email, full_name, user_type, is_active, "
                "is_staff, is_superuser, date_joined) "
                "VALUES ('!', %s, '', 'member', true, false, false, now())",
                rows,
            )
        created = User.objects.filter(email__startswith="bulk")
        assert set(created.values_list("company_id", flat=True)) == {a.company.pk}
        created.delete()


def test_a_failed_statement_in_a_transaction_does_not_break_the_next_one(live_db, two_companies):
    a, _ = two_companies
    with tenant_context.company_context(a.company), transaction.atomic(using="default"):
        with (
            pytest.raises(Exception, match="division by zero"),
            transaction.atomic(using="default"),
            connections["default"].cursor() as cursor,
        ):
            cursor.execute("SELECT 1/0")
        assert User.objects.count() == 2


def test_the_platform_connection_never_carries_a_company(live_db, two_companies):
    a, _ = two_companies
    with pytest.raises(ValueError, match="platform"):
        tenant_context.runtime_connection("platform").set_tenant_context(
            tenant_context.context_for(a.company)
        )


def test_context_is_cleared_after_the_block(live_db, two_companies):
    a, _ = two_companies
    with tenant_context.company_context(a.company):
        pass
    assert tenant_context.current_context() == context.NO_CONTEXT
    assert tenant_context.current_alias() == "default"


PLAIN = "abcdefghijklmnopqrstuvwxyz0123456789_"


@given(st.one_of(st.text(max_size=80), st.text(PLAIN + '\n-"', min_size=1, max_size=70)))
def test_only_plain_schema_names_are_accepted(name):
    valid = (
        0 < len(name) <= 63
        and name[0].isascii()
        and name[0].isalpha()
        and all(ch in PLAIN for ch in name)
        and not name.startswith("pg_")
    )
    if valid and name != "public":
        assert TenantContext(schema_name=name, company_id=1).schema_name == name
    else:
        with pytest.raises(ValueError, match="schema"):
            TenantContext(schema_name=name, company_id=1)


def test_a_change_of_actor_inside_a_transaction_keeps_company_and_schema(live_db, two_companies):
    a, b = two_companies
    with transaction.atomic(using="default"):
        with tenant_context.company_context(a.company, actor_id=a.owner.pk):
            assert settings_seen() == context_of(a, a.owner)
            tenant_context.set_actor(a.member.pk)
            assert settings_seen() == context_of(a, a.member)
            try:
                with transaction.atomic(using="default"):
                    tenant_context.set_actor(a.owner.pk)
                    assert settings_seen()[2] == str(a.owner.pk)
                    raise RuntimeError("roll back to the savepoint")
            except RuntimeError:
                pass
            # the rollback undid the actor's SET LOCAL; the whole context is sent again
            assert settings_seen() == context_of(a, a.owner)
        with tenant_context.company_context(b.company, actor_id=a.owner.pk):
            assert settings_seen() == context_of(b, a.owner)
    assert left_on_the_session() == ""


def test_when_only_the_actor_changes_only_the_actor_is_sent(live_db, two_companies, monkeypatch):
    """On Citus each SET LOCAL of a string costs a trip to the worker: send only what changed."""
    connection = connections["default"]
    connection.ensure_connection()
    if not getattr(connection, "context_apart", False):
        pytest.skip("plain PostgreSQL: the context is prefixed to the statement there")
    a, _ = two_companies
    sent: list[str] = []
    raw_cursor_class = type(connection.connection.cursor())
    original = raw_cursor_class.execute

    def recording(self, query, *args, **kwargs):
        sent.append(query if isinstance(query, str) else str(query))
        return original(self, query, *args, **kwargs)

    monkeypatch.setattr(raw_cursor_class, "execute", recording)
    with tenant_context.company_context(a.company), transaction.atomic(using="default"):
        settings_seen()
        tenant_context.set_actor(a.owner.pk)
        sent.clear()
        assert settings_seen()[2] == str(a.owner.pk)
    context_statements = [s for s in sent if s.startswith("SET LOCAL")]
    assert context_statements == [f"SET LOCAL qiro.actor_id = '{a.owner.pk}'"]
