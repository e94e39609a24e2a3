"""Operations run by the real worker; the admin queues them and shows progress."""

from __future__ import annotations

import json
import subprocess

import pytest

from deployments import backups
from deployments.actions import start_operation
from deployments.models import Backup, Operation, VerificationRun, WorkerHeartbeat
from deployments.services import run_verification
from qiro import tenant_context
from tests.conftest import english_log

from .conftest import ROOT, manage, subprocess_env


def test_the_worker_picks_up_a_queued_operation_and_finishes_it(platform, two_companies):
    operation = start_operation(
        kind=Operation.Kind.VERIFY, parameters={}, acting_user=None, requested_by="test"
    )
    assert operation.status == Operation.Status.QUEUED
    assert operation.task_id
    result = subprocess.run(
        manage("worker", "--batch", "--worker-id", "dp-test-worker"),
        cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    operation.refresh_from_db()
    assert operation.status == Operation.Status.SUCCEEDED, operation.error
    assert operation.steps_done == operation.steps_total > 0
    assert "check Row security on the protected tables" in english_log(operation.log)
    assert VerificationRun.objects.filter(operation=operation).exists()
    assert WorkerHeartbeat.objects.filter(worker_id="dp-test-worker").exists()


def test_a_failing_operation_records_its_error(platform):
    operation = start_operation(
        kind=Operation.Kind.TEST_RESTORE, requested_by="test", parameters={"backup": 0},
        acting_user=None,
    )  # fmt: skip
    from deployments.tasks import execute

    with pytest.raises(Backup.DoesNotExist):
        execute(operation)
    operation.refresh_from_db()
    assert operation.status == Operation.Status.FAILED
    assert "DoesNotExist" in operation.error or "does not exist" in operation.error
    assert operation.finished_at is not None


def test_run_verification_from_the_admin_queues_it_and_shows_progress(staff_client, two_companies):
    response = staff_client.post("/admin/deployments/verificationrun/run/", HTTP_HOST="localhost")
    assert response.status_code == 302
    with tenant_context.platform_context():
        operation = Operation.objects.latest("pk")
    assert operation.kind == Operation.Kind.VERIFY
    assert operation.requested_by == "platform-staff@qiro.example.kr"
    assert response["Location"].endswith(f"/deployments/operation/{operation.pk}/change/")
    page = staff_client.get(response["Location"], HTTP_HOST="localhost")
    assert page.status_code == 200
    assert "progress/" in page.content.decode()
    progress = staff_client.get(
        f"/admin/deployments/operation/{operation.pk}/progress/", HTTP_HOST="localhost"
    )
    assert json.loads(progress.content)["status"] == "queued"


def test_admin_pages_render(staff_client, two_companies, backup_dir):
    with tenant_context.platform_context():
        run = run_verification(observations=True)
        backup = backups.create_backup(company_schema="acme")
    for path in (
        "/admin/deployments/operation/",
        "/admin/deployments/backup/",
        f"/admin/deployments/backup/{backup.pk}/change/",
        "/admin/deployments/backup/start/",
        "/admin/deployments/verificationrun/",
        f"/admin/deployments/verificationrun/{run.pk}/change/",
        "/admin/deployments/deployment/",
        "/admin/deployments/operation/monitoring/",
    ):
        response = staff_client.get(path, HTTP_HOST="localhost")
        assert response.status_code == 200, path
    monitoring = staff_client.get("/admin/deployments/operation/monitoring/", HTTP_HOST="localhost")
    assert b"acme" in monitoring.content


def test_a_live_restore_from_the_admin_asks_for_the_typed_name_first(
    staff_client, two_companies, backup_dir
):
    with tenant_context.platform_context():
        backup = backups.create_backup(company_schema="beta")
        count = Operation.objects.filter(kind=Operation.Kind.RESTORE).count()
    url = f"/admin/deployments/backup/{backup.pk}/restore/"
    page = staff_client.get(url, HTTP_HOST="localhost")
    assert page.status_code == 200
    assert b"beta" in page.content
    wrong = staff_client.post(url, {"confirmation": "acme"}, HTTP_HOST="localhost")
    assert wrong.status_code == 200
    with tenant_context.platform_context():
        assert Operation.objects.filter(kind=Operation.Kind.RESTORE).count() == count
    right = staff_client.post(url, {"confirmation": "beta"}, HTTP_HOST="localhost")
    assert right.status_code == 302
    with tenant_context.platform_context():
        queued = Operation.objects.filter(kind=Operation.Kind.RESTORE).latest("pk")
        assert queued.parameters == {"backup": backup.pk, "confirmation": "beta"}
        queued.delete()
