"""Leases in one process: renewed while held, reaped once expired, and a reaped run stays failed."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from deployments import leases
from deployments.models import Backup, Operation, VerificationRun
from deployments.services import LeaseLost, create_operation, running


@pytest.fixture
def short_leases(platform, settings, backup_dir):
    settings.QIRO_LEASE_SECONDS = 1
    Operation.objects.filter(status__in=["queued", "running"]).delete()


def test_records_made_inside_a_holder_carry_its_lease_and_others_none(short_leases):
    with leases.holding("worker-test-stamp"):
        run = VerificationRun.objects.create(database_name="x")
    outside = VerificationRun.objects.create(database_name="x")
    assert run.lease_holder == "worker-test-stamp"
    assert run.lease_expires_at is not None
    assert outside.lease_holder == ""
    assert outside.lease_expires_at is None
    VerificationRun.objects.filter(pk__in=[run.pk, outside.pk]).delete()


def test_a_renewed_lease_is_not_reaped_and_an_abandoned_one_is(short_leases):
    with leases.holding("worker-test-renewed") as holder:
        kept = create_operation(kind=Operation.Kind.VERIFY)
        with running(kept):
            renewer = leases.Renewer(holder, interval=0.2)
            renewer.start()
            try:
                with leases.holding("worker-test-abandoned"):
                    abandoned = create_operation(kind=Operation.Kind.BACKUP)
                    Operation.objects.filter(pk=abandoned.pk).update(
                        status=Operation.Status.RUNNING,
                        lease_holder="worker-test-abandoned",
                        lease_expires_at=leases.lease_until(),
                    )
                    backup = Backup.objects.create(
                        operation=abandoned, scope=Backup.Scope.DATABASE, database_name="x"
                    )
                time.sleep(1.5)
                assert leases.reap_expired() == [abandoned.pk]
            finally:
                renewer.stop()
    assert Operation.objects.get(pk=kept.pk).status == Operation.Status.SUCCEEDED
    assert Operation.objects.get(pk=abandoned.pk).status == Operation.Status.FAILED
    assert Backup.objects.get(pk=backup.pk).status == Backup.Status.FAILED


def test_an_operation_reaped_while_it_ran_is_not_marked_succeeded_afterwards(short_leases):
    reaped: list[int] = []

    def run_slowly(operation: Operation) -> None:
        with running(operation):  # meanwhile its lease expires and another process reaps it
            Operation.objects.filter(pk=operation.pk).update(
                lease_expires_at=timezone.now() - timedelta(seconds=5)
            )
            reaped.extend(leases.reap_expired())

    with leases.holding("worker-test-slow"):
        operation = create_operation(kind=Operation.Kind.VERIFY)
        with pytest.raises(LeaseLost):
            run_slowly(operation)
    assert reaped == [operation.pk]
    operation.refresh_from_db()
    assert operation.status == Operation.Status.FAILED
    assert "lease expired" in operation.error or "점유 기한" in operation.error
