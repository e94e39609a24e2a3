"""Alerts: a failure mails the opted-in staff once per incident, clears, and degrades readiness."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from psycopg import sql

from deployments.backups import BackupError
from deployments.health import forget_recent_readiness
from deployments.models import Operation
from deployments.scheduling import alerts, runner
from deployments.scheduling.models import Incident, Schedule
from deployments.services import create_operation, run_verification, running
from deployments.tasks import execute
from deployments.worker import Heartbeat
from qiro import tenant_context
from sysauth.models import User

from .conftest import owner_execute
from .schedule_probe import JOBS

TOKEN = "health-token-of-the-alert-tests"
ON_CALL = "on-call@qiro.example.kr"


pytestmark = pytest.mark.usefixtures("in_english")


@pytest.fixture
def staff(platform):
    """Two platform staff: one opted in to the operations mail, one not."""
    with tenant_context.owner_context():
        on_call = User.objects.create_user(ON_CALL, "x" * 20, is_staff=True, notify_operations=True)
        quiet = User.objects.create_user("quiet@qiro.example.kr", "x" * 20, is_staff=True)
    Incident.objects.all().delete()
    mail.outbox.clear()
    yield on_call
    with tenant_context.owner_context():
        User.objects.filter(pk__in=[on_call.pk, quiet.pk]).delete()
    with tenant_context.platform_context():
        Incident.objects.all().delete()


def opened(kind: str) -> list[Incident]:
    """The incidents of ``kind`` that checking now opens (other tests' failures aside)."""
    return [incident for incident in alerts.evaluate().opened if incident.kind == kind]


def resolved(kind: str) -> bool:
    alerts.evaluate()
    return not alerts.open_incidents().filter(kind=kind).exists()


def back_up(company_schema: str) -> Operation:
    """A real backup operation, run here; a schema no company uses makes it fail."""
    operation = create_operation(
        kind=Operation.Kind.BACKUP, parameters={"company_schema": company_schema}
    )
    with contextlib.suppress(BackupError):
        execute(operation)
    operation.refresh_from_db()
    return operation


def test_a_failed_backup_mails_the_opted_in_staff_once_and_clears_when_one_succeeds(
    staff, two_companies, backup_dir
):
    failed = back_up("no_such_company")
    assert failed.status == Operation.Status.FAILED
    (incident,) = opened(Incident.Kind.BACKUP)
    mail.outbox[:] = [m for m in mail.outbox if m.subject == f"[QIRO] {incident}"]
    (message,) = mail.outbox
    assert message.to == [ON_CALL], "only the staff who opted in"
    assert "Backup failed" in message.subject
    assert "no_such_company" in message.body
    assert opened(Incident.Kind.BACKUP) == []
    assert opened(Incident.Kind.BACKUP) == []
    assert len(mail.outbox) == 1, "one mail per incident, however often it is checked"
    incident.refresh_from_db()
    assert incident.mailed_to == 1
    assert incident.mailed_at is not None
    assert incident.is_open

    assert back_up("acme").status == Operation.Status.SUCCEEDED
    assert resolved(Incident.Kind.BACKUP)
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    assert len(mail.outbox) == 1

    back_up("no_such_company")
    (again,) = opened(Incident.Kind.BACKUP)
    assert again.pk != incident.pk, "a new failure after a success is a new incident"
    assert [m.subject for m in mail.outbox].count(f"[QIRO] {again}") == 2


@pytest.mark.parametrize(
    ("operation_kind", "incident_kind"),
    [
        (Operation.Kind.TEST_RESTORE, Incident.Kind.TEST_RESTORE),
        (Operation.Kind.DEPLOY, Incident.Kind.DEPLOY),
    ],
)
def test_a_failed_test_restore_or_deploy_is_an_incident_until_the_next_one_succeeds(
    staff, operation_kind, incident_kind
):
    failing = create_operation(kind=operation_kind)
    with pytest.raises(RuntimeError), running(failing):
        raise RuntimeError("pg_restore: error: could not read from input file")
    (incident,) = opened(incident_kind)
    assert "could not read from input file" in incident.reason
    assert opened(incident_kind) == []
    with running(create_operation(kind=operation_kind)):
        pass
    assert resolved(incident_kind)
    assert [m.subject for m in mail.outbox].count(f"[QIRO] {incident}") == 1


def test_a_failed_verification_is_an_incident_and_readiness_stays_unavailable(staff, two_companies):
    owner_execute(sql.SQL("ALTER TABLE acme.sysauth_user NO FORCE ROW LEVEL SECURITY"))
    try:
        assert run_verification(observations=False).failed > 0
        (incident,) = opened(Incident.Kind.VERIFICATION)
        (message,) = [m for m in mail.outbox if m.subject == f"[QIRO] {incident}"]
        assert "checks failed" in message.body
    finally:
        owner_execute(sql.SQL("ALTER TABLE acme.sysauth_user FORCE ROW LEVEL SECURITY"))
    assert run_verification(observations=False).failed == 0
    assert resolved(Incident.Kind.VERIFICATION)


@pytest.fixture
def overdue(staff, settings):
    """An hourly schedule last run three hours ago."""
    settings.QIRO_SCHEDULE_EXTRA_JOBS = JOBS
    now = timezone.now()
    schedule = Schedule.objects.create(
        name="alerts: hourly probe",
        job="tests.deployments.schedule_probe.note",
        interval_seconds=3600,
        last_run_at=now - timedelta(hours=3),
        next_run_at=now + timedelta(hours=1),
    )
    yield schedule
    with tenant_context.platform_context():
        schedule.delete()


def test_a_schedule_not_run_for_twice_its_interval_is_an_incident_until_it_runs(overdue):
    (incident,) = opened(Incident.Kind.SCHEDULE)
    assert incident.subject == overdue.name
    (message,) = [m for m in mail.outbox if m.subject == f"[QIRO] {incident}"]
    assert overdue.name in message.body
    assert opened(Incident.Kind.SCHEDULE) == [], "still the same incident"

    Schedule.objects.filter(pk=overdue.pk).update(run_requested_at=timezone.now())
    (run,) = runner.run_due()
    assert run.status == "succeeded"
    assert resolved(Incident.Kind.SCHEDULE), "it ran: resolved"
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    assert [m.subject for m in mail.outbox].count(f"[QIRO] {incident}") == 1


def test_a_disabled_schedule_is_no_incident(overdue):
    Schedule.objects.filter(pk=overdue.pk).update(enabled=False)
    assert opened(Incident.Kind.SCHEDULE) == []


@pytest.fixture
def ready(staff, two_companies, settings, backup_dir):
    """Everything ready (as /health/ready/ sees it), then a failed backup's incident open."""
    settings.QIRO_HEALTH_TOKEN = TOKEN
    run_verification(observations=False)
    Operation.objects.filter(status__in=["queued", "running"]).delete()
    Heartbeat("dp-alerts").beat()
    back_up("no_such_company")
    only_backups()
    tenant_context.clear()  # requests set their own context
    forget_recent_readiness()


def only_backups() -> None:
    """Check now, and keep only the backup incidents (other tests' failures are not ours)."""
    alerts.evaluate()
    alerts.open_incidents().exclude(kind=Incident.Kind.BACKUP).delete()


def readiness(**headers: str):
    response = Client().get("/health/ready/", HTTP_HOST="localhost", headers=headers)
    return response.status_code, json.loads(response.content)


def test_readiness_is_degraded_with_reasons_for_staff_and_only_the_status_for_strangers(ready):
    assert readiness() == (200, {"status": "degraded"}), "strangers learn no reason"
    code, body = readiness(Authorization=f"Bearer {TOKEN}")
    assert code == 200
    assert body["status"] == "degraded"
    assert body["ready"] is True, "readiness itself is as strict as before, and passes"
    (reason,) = body["degraded"]
    assert "no_such_company" in reason

    with tenant_context.platform_context():
        back_up("acme")
        only_backups()
    tenant_context.clear()
    forget_recent_readiness()
    assert readiness() == (200, {"status": "ok"})
    assert readiness(Authorization=f"Bearer {TOKEN}")[1]["degraded"] == []


def test_platform_staff_choose_the_operations_mail_on_their_user_page(staff_client, staff):
    tenant_context.clear()
    page = staff_client.get(f"/admin/sysauth/user/{staff.pk}/change/", HTTP_HOST="localhost")
    assert page.status_code == 200
    text = page.content.decode()
    start = text.index('name="notify_operations"')
    tag = text[text.rindex("<input", 0, start) : text.index(">", start)]
    assert 'type="checkbox"' in tag, tag
    assert "checked" in tag, "opted in: the box is ticked"
