"""The daily summary: what needs attention, on the platform admin index and by e-mail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from deployments.models import Backup, VerificationRun, WorkerHeartbeat
from deployments.routine.summary import NEAR_SHARE, PLAN_LIMITS, build_daily_summary
from qiro import tenant_context
from tenants import schema_pool
from tenants.models import Company
from tests.registration.factories import valid_brn


def empty_pool() -> None:
    from django.db import connections

    with connections["owner"].cursor() as cursor:
        names = schema_pool.pool_schemas(cursor, current_only=False)
    for name in names:
        schema_pool.drop_schema(name)


@pytest.fixture
def trouble(platform):
    """A backup that failed an hour ago, one from two days ago, a failed verification,
    a company at 90 % of its users, an empty pool and a worker last seen ten minutes ago."""
    now = timezone.now()
    failed = Backup.objects.create(
        scope=Backup.Scope.DATABASE, database_name="qiro", status=Backup.Status.FAILED,
        error="디스크가 가득 찼습니다 (disk full)",
    )  # fmt: skip
    old = Backup.objects.create(
        scope=Backup.Scope.DATABASE, database_name="qiro", status=Backup.Status.FAILED,
        error="an old failure",
    )  # fmt: skip
    Backup.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=2))
    run = VerificationRun.objects.create(
        database_name="qiro", status=VerificationRun.Status.FAILED, failed=2
    )
    crowded = Company.objects.using("owner").create(
        name="붐비는 상사", business_registration_number=valid_brn(), schema_name="crowded_co",
        user_count=int(PLAN_LIMITS["standard"].users * 0.9),
    )  # fmt: skip
    WorkerHeartbeat.objects.all().delete()
    WorkerHeartbeat.objects.create(
        worker_id="summary-test", hostname="h", pid=1, started_at=now - timedelta(hours=1),
        last_seen=now - timedelta(minutes=10),
    )  # fmt: skip
    empty_pool()
    yield {"failed": failed, "old": old, "run": run, "crowded": crowded, "now": now}
    with tenant_context.platform_context():  # a request in the test cleared the context
        Backup.objects.filter(pk__in=[failed.pk, old.pk]).delete()
        VerificationRun.objects.filter(pk=run.pk).delete()
        WorkerHeartbeat.objects.filter(worker_id="summary-test").delete()
    Company.objects.using("owner").filter(pk=crowded.pk).delete()


def test_the_summary_lists_failed_backups_and_verifications_a_full_company_and_an_empty_pool(
    trouble,
):
    summary = build_daily_summary(now=timezone.now())
    assert trouble["failed"] in summary.failed_backups
    assert trouble["old"] not in summary.failed_backups  # older than a day
    assert trouble["run"] in summary.failed_verifications
    assert trouble["crowded"] in summary.near_limits
    assert summary.pool_empty
    assert summary.worker_missing
    text = summary.as_text()
    assert "disk full" in text
    assert "an old failure" not in text
    assert "붐비는 상사" in text
    assert summary.findings >= 5


def test_a_quiet_day_has_nothing_to_report(trouble):
    Backup.objects.filter(pk=trouble["failed"].pk).update(
        created_at=timezone.now() - timedelta(days=3)
    )
    VerificationRun.objects.filter(pk=trouble["run"].pk).update(
        status=VerificationRun.Status.PASSED
    )
    Company.objects.using("owner").filter(pk=trouble["crowded"].pk).update(
        user_count=int(PLAN_LIMITS["standard"].users * NEAR_SHARE) - 1
    )
    WorkerHeartbeat.objects.filter(worker_id="summary-test").update(last_seen=timezone.now())
    schema_pool.fill_schema_pool(size=1)
    summary = build_daily_summary(now=timezone.now())
    assert trouble["crowded"] not in summary.near_limits
    # (other tests of this database may leave failures of their own: only ours are checked)
    assert trouble["failed"] not in summary.failed_backups
    assert trouble["run"] not in summary.failed_verifications
    assert (summary.pool_size, summary.worker_missing) == (1, False)


def test_the_platform_admin_index_shows_the_summary(trouble, staff_client):
    page = staff_client.get("/admin/", HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    body = page.content.decode()
    assert page.status_code == 200
    assert "Daily summary" in body
    assert "disk full" in body
    assert "The schema pool is empty" in body
    korean = staff_client.get("/admin/", HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ko")
    assert "일일 요약" in korean.content.decode()
    assert "스키마 풀이 비어 있습니다" in korean.content.decode()


def test_the_summary_is_mailed_to_the_opted_in_staff_only(trouble):
    from deployments.routine.summary import send_daily_summary
    from sysauth.models import User

    with tenant_context.owner_context():
        on_call = User.objects.create_user(
            "summary-on-call@qiro.example.kr", "x" * 20, is_staff=True, notify_operations=True
        )
        quiet = User.objects.create_user("summary-quiet@qiro.example.kr", "x" * 20, is_staff=True)
    try:
        mail.outbox.clear()
        send_daily_summary(now=timezone.now())
        assert [message.to for message in mail.outbox] == [[on_call.email]]
        assert "disk full" in mail.outbox[0].body
    finally:
        with tenant_context.owner_context():
            User.objects.filter(pk__in=[on_call.pk, quiet.pk]).delete()
