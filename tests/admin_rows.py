"""Rows of every admin page's model, grown on demand: the platform's and one company's.

Used where pages are measured or shown with rows in them: the query counts
(``tests/test_admin_queries.py``), the Korean pages and the browser walk.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_noop

from deployments.models import (
    Backup,
    CheckResult,
    Deployment,
    FiguresSnapshot,
    Operation,
    PermissionReport,
    PermissionReportRow,
    VerificationRun,
)
from deployments.scheduling.models import Incident, Schedule, ScheduleRun
from qiro import stored_text, tenant_context
from qiro.stored_text import said
from registration.models import Application, ApplicationStatus, ReviewEvent
from sysauth.models import (
    AuditEntry,
    Role,
    RolePermission,
    Session,
    SessionStatus,
    User,
    UserRole,
)
from sysauth.models_tokens import ApiToken
from tenants.models import Company, Domain
from tests.conftest import CompanyWithUsers

Picks = dict[tuple[str, str], Any]  # (admin site, model label) -> pk of the change page

MARK = "nq_bench"  # marks every platform row the test writes, to remove them afterwards


class PlatformRows:
    """Companies (rows only, no schemas), domains, applications and their review events,
    platform staff, operations, backups, verification runs and deployments."""

    def grow(self, n: int) -> None:
        with tenant_context.owner_context():
            staff = self._staff(n)
            self._companies(n)
            self._applications(n, reviewer=staff[0])
            self._operations(n)
            self._routine(n)
            self._audit(n)

    def _audit(self, n: int) -> None:
        """``n`` entries of the platform's audit log."""
        mine = AuditEntry.objects.filter(target_label__startswith=MARK)
        for i in range(mine.count(), n):
            AuditEntry.objects.create(
                action="company.suspend", acting_email=f"staff@{MARK}.example.kr",
                target_type="tenants.company", target_id=str(i), target_label=f"{MARK}_{i}",
            )  # fmt: skip

    def _routine(self, n: int) -> None:
        """``n`` permission reports (the first with ``n`` lines) and ``n`` days of snapshots."""
        reports = PermissionReport.objects.filter(period_start__year=2001)
        for _ in range(reports.count(), n):
            PermissionReport.objects.create(
                period_start=datetime(2001, 1, 1, tzinfo=UTC), period_end=timezone.now()
            )
        report = reports.order_by("pk").first()
        assert report is not None
        for i in range(report.rows.count(), n):
            PermissionReportRow.objects.create(
                report=report, company_id=i, schema_name=f"{MARK}_{i}", company_name=f"회사 {i}",
                operation="INSERT", table_name="sysauth_userrole", role_name="admin",
                actor_email=f"a{i}@{MARK}.example.kr", count=i + 1,
            )  # fmt: skip
        for i in range(FiguresSnapshot.objects.filter(schema_name=MARK).count(), n):
            FiguresSnapshot.objects.create(
                day=date(2001, 1, 1) + timedelta(days=i), schema_name=MARK, taken_at=timezone.now()
            )

    def _staff(self, n: int) -> list[User]:
        mine = User.objects.filter(email__endswith=f"@{MARK}.example.kr")
        for i in range(mine.count(), n):
            User.objects.create_user(
                f"staff{i}@{MARK}.example.kr", None, is_staff=True, full_name=f"직원 {i}"
            )
        return list(mine.order_by("email"))

    def _companies(self, n: int) -> None:
        mine = Company.objects.filter(schema_name__startswith=MARK)
        for i in range(mine.count(), n):
            company = Company.objects.create(
                name=f"벤치 회사 {i}",
                business_registration_number=f"97{i:08d}",
                schema_name=f"{MARK}_{i}",
                user_count=i,
                schema_size_bytes=1024 * i,
            )
            Domain.objects.create(domain=f"nq-bench-{i}.localhost", tenant=company, is_primary=True)
        first = mine.order_by("schema_name").first()
        assert first is not None
        for j in range(first.domains.count(), n):
            Domain.objects.create(
                domain=f"nq-bench-0-{j}.localhost", tenant=first, is_primary=False
            )

    def _applications(self, n: int, reviewer: User) -> None:
        mine = Application.objects.filter(subdomain__startswith="nqapp")
        for i in range(mine.count(), n):
            Application.objects.create(
                company_name=f"벤치 신청 {i}",
                business_registration_number=f"96{i:08d}",
                representative_name="김대표",
                business_type="서비스업",
                address="서울특별시 중구 세종대로 1",
                contact_email=f"contact{i}@{MARK}.example.kr",
                phone="010-1234-5678",
                subdomain=f"nqapp{i}",
                admin_full_name="이관리",
                admin_email=f"admin{i}@{MARK}.example.kr",
                terms_accepted_at=timezone.now(),
                status=ApplicationStatus.EMAIL_VERIFIED,
            )
        first = mine.order_by("subdomain").first()
        assert first is not None
        for _ in range(first.review_events.count(), n):
            ReviewEvent.objects.create(
                application=first,
                decision=ApplicationStatus.EMAIL_VERIFIED,
                actor=reviewer,
                reason="확인",
            )

    def _operations(self, n: int) -> None:
        for _ in range(Operation.objects.filter(requested_by=MARK).count(), n):
            operation = Operation.objects.create(
                kind=Operation.Kind.DEPLOY,
                requested_by=MARK,
                status=Operation.Status.SUCCEEDED,
                steps_done=4,
                steps_total=4,
                log="07:11:02 written before, as plain text\n"
                + stored_text.stamped(
                    said(gettext_noop("counted rows of %(count)d tables"), count=4)
                )
                + "\n",
            )
            backup = Backup.objects.create(
                operation=operation,
                scope=Backup.Scope.DATABASE,
                database_name=MARK,
                status=Backup.Status.OK,
                size_bytes=2048,
                test_restore_report=stored_text.stored(
                    [said(gettext_noop("row counts equal in %(count)d tables (%(seconds)s s)"),
                          count=4, seconds="0.01")]
                ),
            )  # fmt: skip
            run = VerificationRun.objects.create(
                operation=operation, database_name=MARK, status=VerificationRun.Status.PASSED
            )
            Deployment.objects.create(
                operation=operation,
                backup=backup,
                verification=run,
                status=Deployment.Status.SUCCEEDED,
                steps=[{"name": "verify", "status": "done", "started": None, "finished": None,
                        "detail": stored_text.stored(said(gettext_noop("%(count)d checks passed"),
                                                          count=4))}],
            )  # fmt: skip
        first = VerificationRun.objects.filter(database_name=MARK).order_by("pk").first()
        assert first is not None
        for i in range(first.results.count(), n):
            CheckResult.objects.create(
                run=first, check_name=f"check {i}", schema_name="public", outcome="pass"
            )
        if not first.results.filter(outcome="fail").exists():  # a finding, as the checks write it
            CheckResult.objects.create(
                run=first, check_name="row_security", schema_name="public", outcome="fail",
                expected=stored_text.stored(said(gettext_noop("ENABLE missing"))),
                found=stored_text.stored([said(gettext_noop("FORCE missing"))]),
            )  # fmt: skip
        self._schedule_runs(n)

    def _schedule_runs(self, n: int) -> None:
        mine = Schedule.objects.filter(name__startswith=MARK)
        for i in range(mine.count(), n):
            Schedule.objects.create(
                name=f"{MARK} {i}", job="deployments.scheduling.jobs.expire_sessions",
                enabled=False, interval_seconds=3600,
            )  # fmt: skip
        schedule = mine.order_by("name").first()
        assert schedule is not None
        operations = list(Operation.objects.filter(requested_by=MARK).order_by("pk"))
        now = timezone.now()
        for i in range(schedule.runs.count(), n):
            ScheduleRun.objects.create(
                schedule=schedule, job=schedule.job, started_at=now, status="succeeded",
                result=stored_text.stored(said(gettext_noop("Nothing needs attention."))),
                operation=operations[i % len(operations)],
            )  # fmt: skip
            Incident.objects.create(
                kind=Incident.Kind.SCHEDULE, subject=f"{MARK} {i}", reason="확인",
                opened_at=now, resolved_at=now,
            )  # fmt: skip

    def picks(self) -> Picks:
        with tenant_context.owner_context():
            company = Company.objects.filter(schema_name__startswith=MARK).order_by("schema_name")
            staff = User.objects.filter(email__endswith=f"@{MARK}.example.kr").order_by("email")
            application = Application.objects.filter(subdomain__startswith="nqapp").order_by(
                "subdomain"
            )
            run = VerificationRun.objects.filter(database_name=MARK).order_by("pk")
            report = PermissionReport.objects.filter(period_start__year=2001).order_by("pk")
            snapshot = FiguresSnapshot.objects.filter(schema_name=MARK).order_by("day")
            pks = {
                "deployments.permissionreport": report.values_list("pk", flat=True)[0],
                "deployments.figuressnapshot": snapshot.values_list("pk", flat=True)[0],
                "tenants.company": company.values_list("pk", flat=True)[0],
                "sysauth.user": staff.values_list("pk", flat=True)[0],
                "registration.application": application.values_list("pk", flat=True)[0],
                "deployments.verificationrun": run.values_list("pk", flat=True)[0],
                "sysauth.auditentry": AuditEntry.objects.filter(target_label__startswith=MARK)
                .values_list("pk", flat=True)
                .first(),
            }
        return {("platform_admin", label): pk for label, pk in pks.items()}

    @staticmethod
    def remove() -> None:
        with tenant_context.owner_context():
            Incident.objects.filter(subject__startswith=MARK).delete()
            Schedule.objects.filter(name__startswith=MARK).delete()
            Deployment.objects.filter(operation__requested_by=MARK).delete()
            PermissionReport.objects.filter(period_start__year=2001).delete()
            FiguresSnapshot.objects.filter(schema_name=MARK).delete()
            VerificationRun.objects.filter(database_name=MARK).delete()
            Backup.objects.filter(database_name=MARK).delete()
            Operation.objects.filter(requested_by=MARK).delete()
            Application.objects.filter(subdomain__startswith="nqapp").delete()
            User.objects.filter(email__endswith=f"@{MARK}.example.kr").delete()
            Company.objects.filter(schema_name__startswith=MARK).delete()
            AuditEntry.objects.filter(target_label__startswith=MARK).delete()  # as the owner


class CompanyRows:
    """Users (each with a role and a session), roles with permissions, and the owner
    holding every role and many sessions; the history grows with every assignment."""

    def __init__(self, made: CompanyWithUsers) -> None:
        self.made = made

    def grow(self, n: int) -> None:
        owner = self.made.owner
        with tenant_context.company_context(self.made.company, actor_id=owner.pk):
            member_role = Role.objects.get(name=Role.MEMBER)
            for i in range(User.objects.count(), n):
                user = User.objects.create_user(
                    f"user{i}@bench.example.kr", None, full_name=f"직원 {i}"
                )
                UserRole.objects.create(user=user, role=member_role, assigned_by=owner)
                self._session(user)
            for i in range(Role.objects.count(), n):
                role = Role.objects.create(name=f"team-{i}", label=f"팀 {i}")
                RolePermission.objects.bulk_create(
                    RolePermission(role=role, codename=codename)
                    for codename in ("sysauth.view_user", "sysauth.view_session")
                )
            held = UserRole.objects.filter(user=owner).values("role")
            for role in Role.objects.exclude(pk__in=held):
                UserRole.objects.create(user=owner, role=role, assigned_by=owner)
            for i in range(Session.objects.filter(user=owner).count(), n):
                self._session(owner, revoked=i % 2 == 0)
            for i in range(AuditEntry.objects.count(), n):
                AuditEntry.objects.create(
                    action="user.update", acting_user_id=owner.pk, acting_email=owner.email,
                    target_type="sysauth.user", target_id=str(i), target_label=f"user{i}",
                )  # fmt: skip
            for i in range(ApiToken.objects.count(), n):
                ApiToken.objects.create(
                    user=owner, name=f"token {i}", prefix=f"bench{i:05d}", secret_hash="0" * 64,
                    scopes=["users:read"], revoked_at=timezone.now() if i % 2 else None,
                )  # fmt: skip

    def _session(self, user: User, *, revoked: bool = False) -> None:
        now = timezone.now()
        Session.objects.create(
            key_hash=uuid.uuid4().hex * 2,
            session_data="",
            user=user,
            ip_address="192.0.2.10",
            user_agent="Bench/1.0",
            expires_at=now + timedelta(days=1),
            status=SessionStatus.REVOKED if revoked else SessionStatus.ACTIVE,
            ended_at=now if revoked else None,
            revoked_by=self.made.owner if revoked else None,
            revoked_reason="bench" if revoked else "",
        )

    def picks(self) -> Picks:
        owner = self.made.owner
        with tenant_context.company_context(self.made.company):
            owner_role = Role.objects.get(name=Role.OWNER)
            assignment = UserRole.objects.get(user=owner, role=owner_role)
            session = Session.objects.filter(user=owner, status=SessionStatus.REVOKED).first()
            assert session is not None
            audit_pk = AuditEntry.objects.values_list("pk", flat=True).first()
            token = ApiToken.objects.filter(user=owner).first()
            assert token is not None
        pks = {
            "sysauth.apitoken": token.pk,
            "sysauth.user": owner.pk,
            "sysauth.role": owner_role.pk,
            "sysauth.userrole": assignment.pk,
            "sysauth.session": session.pk,
            "sysauth.auditentry": audit_pk,
        }
        return {("company_admin", label): pk for label, pk in pks.items()}
