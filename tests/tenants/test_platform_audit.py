"""The platform's audit log: approvals, rejections, suspensions and long operations, in public.

Written by the platform role in each action's own transaction; append-only for
both runtime roles; shown read-only in the platform admin, each company's own
log in its admin.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connections, transaction
from django.test import Client
from psycopg import sql

from deployments import actions as deployment_actions
from deployments.models import Operation
from qiro import tenant_context
from qiro.db.roles import apply_public_grants, role_name
from registration import actions as review_actions
from registration.models import Application, ApplicationStatus
from sysauth.models import AuditEntry, User
from sysauth.models_audit import AuditAction, AuditOutcome
from tenants import actions
from tenants.models import Company
from tests.conftest import admin_sign_in, make_company
from tests.registration.factories import unique_label, valid_brn, verified
from tests.tenants.test_provisioning import remove_company

LOG = "/admin/sysauth/auditentry/"


@pytest.fixture
def staff(live_db) -> User:
    with tenant_context.owner_context():
        user, _ = User.objects.get_or_create(
            email="audit-staff@qiro.example.kr",
            defaults={"is_staff": True, "is_superuser": True, "full_name": "감사 담당"},
        )
    return user


def platform_rows() -> list[AuditEntry]:
    with tenant_context.platform_context():
        return list(AuditEntry.objects.order_by("id"))


@contextmanager
def platform_insert_refused() -> Iterator[None]:
    """The platform role loses INSERT on the public audit table: its actions must fail."""
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            sql.SQL("REVOKE INSERT ON public.sysauth_auditentry FROM {}").format(
                sql.Identifier(role_name("platform"))
            )
        )
    try:
        yield
    finally:
        with connections["owner"].cursor() as cursor:
            apply_public_grants(cursor)


def test_suspend_and_reactivate_write_one_platform_row_each_with_the_actor(staff):
    made = make_company(unique_label("pa"), valid_brn(), "감사 회사")
    try:
        before = len(platform_rows())
        assert actions.suspend_company(company=made.company, reason="요금 미납", acting_user=staff)
        assert actions.reactivate_company(company=made.company, acting_user=staff)
        assert not actions.reactivate_company(company=made.company, acting_user=staff)
        added = platform_rows()[before:]
        assert [(r.action, r.outcome) for r in added] == [
            (AuditAction.COMPANY_SUSPEND, AuditOutcome.DONE),
            (AuditAction.COMPANY_REACTIVATE, AuditOutcome.DONE),
            (AuditAction.COMPANY_REACTIVATE, AuditOutcome.UNCHANGED),
        ]
        suspended = added[0]
        assert suspended.company_id is None
        assert (suspended.acting_user_id, suspended.acting_email) == (staff.pk, staff.email)
        assert (suspended.target_type, suspended.target_id) == (
            "tenants.company",
            str(made.company.pk),
        )
        assert suspended.details == {"reason": "요금 미납"}
        with tenant_context.company_context(made.company):
            ended = AuditEntry.objects.get(action=AuditAction.COMPANY_SESSIONS_REVOKE)
        assert ended.company_id == made.company.pk
    finally:
        remove_company(made.company.schema_name)


def test_a_suspension_whose_audit_row_fails_is_not_made(staff):
    made = make_company(unique_label("pf"), valid_brn(), "실패 회사")
    try:
        with platform_insert_refused(), pytest.raises(DatabaseError, match="permission denied"):
            actions.suspend_company(company=made.company, reason="x", acting_user=staff)
        made.company.refresh_from_db()
        assert made.company.status == Company.Status.ACTIVE
    finally:
        remove_company(made.company.schema_name)


def test_a_rejection_writes_one_row_and_mails_only_after_commit(staff, mailoutbox):
    application = verified()
    mailoutbox.clear()
    with platform_insert_refused(), pytest.raises(DatabaseError, match="permission denied"):
        review_actions.reject_application(
            application_id=application.pk, acting_user=staff, reason="중복 신청"
        )
    assert mailoutbox == [], "the rejection mail left although nothing was committed"
    stored = Application.objects.using("owner").get(pk=application.pk)
    assert stored.status == ApplicationStatus.EMAIL_VERIFIED
    before = len(platform_rows())
    review_actions.reject_application(
        application_id=application.pk, acting_user=staff, reason="중복 신청"
    )
    added = platform_rows()[before:]
    assert [(r.action, r.target_id) for r in added] == [
        (AuditAction.APPLICATION_REJECT, str(application.pk))
    ]
    assert [m.to for m in mailoutbox] == [[application.contact_email]]


def test_a_refused_review_writes_no_row(staff):
    application = verified()
    review_actions.reject_application(application_id=application.pk, acting_user=staff, reason="a")
    before = len(platform_rows())
    with pytest.raises(review_actions.ReviewError):
        review_actions.reject_application(
            application_id=application.pk, acting_user=staff, reason="again"
        )
    with pytest.raises(review_actions.ReviewError):
        review_actions.approve_application(application_id=application.pk, acting_user=staff)
    assert len(platform_rows()) == before


def test_an_approval_writes_its_row_with_the_company_it_made(staff, mailoutbox):
    application = verified()
    mailoutbox.clear()  # the verification link
    before = len(platform_rows())
    company = review_actions.approve_application(application_id=application.pk, acting_user=staff)
    try:
        added = platform_rows()[before:]
        assert [r.action for r in added] == [AuditAction.APPLICATION_APPROVE]
        assert added[0].details["company_id"] == company.pk
        assert added[0].acting_email == staff.email
        assert [m.to for m in mailoutbox] == [[application.contact_email]]
        with tenant_context.company_context(company):
            first = AuditEntry.objects.get()
        assert first.action == AuditAction.FIRST_ADMINISTRATOR
    finally:
        remove_company(company.schema_name)


@pytest.mark.parametrize(
    ("start", "action"),
    [
        (
            lambda staff: deployment_actions.start_verification(acting_user=staff),
            AuditAction.VERIFICATION_START,
        ),
        (
            lambda staff: deployment_actions.start_backup(company_schema="", acting_user=staff),
            AuditAction.BACKUP_START,
        ),
        (
            lambda staff: deployment_actions.start_deploy(acting_user=staff),
            AuditAction.DEPLOY_START,
        ),
    ],
)
def test_a_long_operation_is_recorded_and_queued_on_commit(staff, start, action):
    before = len(platform_rows())
    with tenant_context.platform_context():
        operation = start(staff)
        stored = Operation.objects.get(pk=operation.pk)
    try:
        added = platform_rows()[before:]
        assert [(r.action, r.outcome) for r in added] == [(action, AuditOutcome.QUEUED)]
        assert added[0].details["operation"] == operation.pk
        assert stored.task_id, "the task was queued once the request was committed"
        assert stored.requested_by == staff.email
    finally:
        with tenant_context.owner_context():
            Operation.objects.filter(pk=operation.pk).delete()
        with connections["owner"].cursor() as cursor:
            cursor.execute("DELETE FROM django_tasks_database_dbtaskresult WHERE id::text = %s",
                           [stored.task_id])  # fmt: skip


def test_an_operation_whose_audit_row_fails_queues_nothing(staff):
    with tenant_context.platform_context():
        count = Operation.objects.count()
        with platform_insert_refused(), pytest.raises(DatabaseError, match="permission denied"):
            deployment_actions.start_verification(acting_user=staff)
        assert Operation.objects.count() == count


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE public.sysauth_auditentry SET acting_email = 'x@example.kr'",
        "DELETE FROM public.sysauth_auditentry",
    ],
)
def test_the_platform_role_cannot_rewrite_the_platform_log(staff, statement):
    """Attack: the platform role tries to erase who suspended a company."""
    with (
        tenant_context.platform_context(),
        connections["platform"].cursor() as cursor,
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(using="platform"),
    ):
        cursor.execute(statement)


def test_the_company_runtime_role_cannot_read_the_platform_log(live_db, two_companies):
    """Attack: a company's session reads the platform's log by naming it."""
    with (
        tenant_context.company_context(two_companies[0].company),
        connections["default"].cursor() as cursor,
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(using="default"),
    ):
        cursor.execute("SELECT * FROM public.sysauth_auditentry")
    tenant_context.clear()


def test_the_platform_admin_shows_the_log_read_only_filtered_and_searched(staff, staff_client):
    made = make_company(unique_label("pv"), valid_brn(), "목록 회사")
    try:
        actions.suspend_company(company=made.company, reason="검토", acting_user=staff)
        page = staff_client.get(LOG, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ko")
        html = page.content.decode()
        assert page.status_code == 200
        assert "회사 이용 정지" in html  # the action's name, translated
        assert staff.email in html
        filtered = staff_client.get(
            LOG + "?action=company.suspend&q=" + staff.email, HTTP_HOST="localhost"
        )
        assert made.company.name in filtered.content.decode()
        other = staff_client.get(LOG + "?action=application.reject&q=" + staff.email,
                                 HTTP_HOST="localhost")  # fmt: skip
        assert made.company.name not in other.content.decode()
        assert (
            staff_client.get(
                LOG + "?created_at__gte=2000-01-01+00:00:00%2B00:00", HTTP_HOST="localhost"
            ).status_code
            == 200
        )
        by_staff = staff_client.get(f"{LOG}?acting_user={staff.pk}", HTTP_HOST="localhost")
        assert made.company.name in by_staff.content.decode()
        by_system = staff_client.get(f"{LOG}?acting_user=system", HTTP_HOST="localhost")
        assert made.company.name not in by_system.content.decode()
        assert staff_client.get(LOG + "add/", HTTP_HOST="localhost").status_code == 403
        entry = platform_rows()[-1]
        change = staff_client.get(f"{LOG}{entry.pk}/change/", HTTP_HOST="localhost")
        assert change.status_code == 200
        assert 'name="_save"' not in change.content.decode()
        assert staff_client.post(f"{LOG}{entry.pk}/delete/", {"post": "yes"},
                                 HTTP_HOST="localhost").status_code == 403  # fmt: skip
    finally:
        remove_company(made.company.schema_name)


def test_a_company_admin_shows_its_own_log_only(live_db):
    a = make_company(unique_label("ca"), valid_brn(), "에이 회사")
    b = make_company(unique_label("cb"), valid_brn(), "비 회사")
    try:
        from sysauth import actions as sysauth_actions

        for made in (a, b):
            with tenant_context.company_context(made.company):
                sysauth_actions.revoke_user_sessions(
                    user=made.member, reason="test", acting_user=made.owner
                )
        client = Client()
        signed = admin_sign_in(client, a.host, a.owner.email)
        assert signed.status_code == 302
        html = client.get(LOG, HTTP_HOST=a.host, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert a.member.email in html
        assert b.member.email not in html
    finally:
        remove_company(a.company.schema_name)
        remove_company(b.company.schema_name)
