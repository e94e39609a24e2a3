"""Faults during an operation: the worker killed, the database side cut, a command killed.

Each test stops a backup while pg_dump is at work: the test holds an
ACCESS EXCLUSIVE lock on a partitioned table (the row counts taken before
pg_dump read only its partitions; pg_dump locks the parent too), so pg_dump
has created its file and waits. Then the fault. Afterwards no record says
running, no partial file remains, and the next job runs.

The database side is cut with ``pg_terminate_backend`` on every connection
to this test's own database, not by stopping the server: the server is
shared by the other test processes, each with a database of its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connections
from django.utils import translation
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from deployments import leases
from deployments.actions import start_operation
from deployments.models import Backup, Deployment, Operation, VerificationRun
from qiro import stored_text, tenant_context
from qiro.db import pg
from tests.conftest import stop_process

from .conftest import ROOT, manage, subprocess_env, wait_for

LEASE_SECONDS = "2"
BLOCKING_TABLE = "public.registration_emailverificationtoken"  # partitioned


@contextlib.contextmanager
def pg_dump_held() -> Iterator[psycopg.Connection[Any]]:
    """pg_dump, once started, waits on this lock until the body ends."""
    with pg.connect(autocommit=False) as conn:
        conn.execute(f"LOCK TABLE ONLY {BLOCKING_TABLE} IN ACCESS EXCLUSIVE MODE")
        yield conn
        conn.rollback()


def pg_dump_waiting() -> bool:
    with pg.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'pg_dump' AND wait_event_type = 'Lock'"
        ).fetchone()
    return bool(row and row[0])


def terminate_backends(*, keep: psycopg.Connection[Any], application_name: str = "") -> int:
    """End server connections to this database (all but ``keep``'s, or one program's)."""
    row = keep.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND (%s = '' OR application_name = %s)",
        [application_name, application_name],
    ).fetchone()
    return int(row[0]) if row else 0


def start_worker(env: dict[str, str], worker_id: str, logs: Path) -> subprocess.Popen[bytes]:
    with (logs / f"{worker_id}.log").open("ab") as log:
        return subprocess.Popen(
            manage("worker", "--worker-id", worker_id, "--interval", "0.2"),
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        stop_process(process, grace=20)


def fresh(operation: Operation) -> Operation:
    return Operation.objects.get(pk=operation.pk)


def nothing_running() -> dict[str, list[Any]]:
    """Every record still saying running (expected: none)."""
    found: dict[str, list[Any]] = {
        model.__name__: list(model.objects.filter(status="running").values_list("pk", flat=True))
        for model in (Operation, Backup, VerificationRun, Deployment)
    }
    found["DBTaskResult"] = list(
        DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).values_list("pk", flat=True)
    )
    return {name: pks for name, pks in found.items() if pks}


def korean_of(text: str) -> str:
    with translation.override("ko"):
        return stored_text.read(text)


def in_korean_and_english(**reason: Any) -> tuple[str, str]:
    stored = leases.stopped_reason(
        kind_label=stored_text.label(Operation.Kind.BACKUP.label, lower=True), **reason
    )
    with translation.override("ko"):
        korean = stored_text.read(stored)
    with translation.override("en"):
        english = stored_text.read(stored)
    assert korean != english, "the reason is translated"
    assert "백업" in korean
    return korean, english


@pytest.fixture
def fault_env(platform, two_companies, backup_dir, tmp_path):
    Operation.objects.filter(status__in=["queued", "running"]).delete()
    return subprocess_env(QIRO_LEASE_SECONDS=LEASE_SECONDS, QIRO_BACKUP_DIR=str(backup_dir))


def backup_in_pg_dump(operation: Operation) -> Backup:
    """The operation's backup, once pg_dump has made its file and waits."""
    wait_for(pg_dump_waiting, "pg_dump to wait on the lock")
    backup = Backup.objects.get(operation=operation)
    assert backup.status == Backup.Status.RUNNING
    assert backup.lease_holder
    assert backup.lease_expires_at
    assert Path(backup.file_path).exists(), "pg_dump has created its archive"
    return backup


@pytest.mark.usefixtures("restores_from_a_dump")
def test_a_worker_killed_during_a_backup_leaves_nothing_running(fault_env, backup_dir, tmp_path):
    with pg_dump_held() as lock:
        worker = start_worker(fault_env, "dp-doomed", tmp_path)
        try:
            operation = start_operation(
                kind=Operation.Kind.BACKUP, parameters={}, acting_user=None, requested_by="test"
            )
            backup = backup_in_pg_dump(operation)
            scratch = backup_dir / f"{leases.scratch_prefix(backup.lease_holder)}restore1"
            scratch.mkdir()  # what a restore of this worker would have left
            assert fresh(operation).lease_holder == backup.lease_holder
            worker.send_signal(signal.SIGKILL)
            assert worker.wait(timeout=20) == -signal.SIGKILL
        finally:
            stop(worker)
        # pg_dump outlives the killed worker (its child); end it like the server would.
        assert terminate_backends(keep=lock, application_name="pg_dump") == 1

    successor = start_worker(fault_env, "dp-successor", tmp_path)
    try:
        following = start_operation(
            kind=Operation.Kind.VERIFY, parameters={}, acting_user=None, requested_by="test"
        )
        wait_for(lambda: fresh(following).is_finished, "the next job")
        wait_for(lambda: fresh(operation).is_finished, "the reaper")
    finally:
        stop(successor)

    operation = fresh(operation)
    backup.refresh_from_db()
    korean, english = in_korean_and_english(holder=backup.lease_holder)
    assert fresh(following).status == Operation.Status.SUCCEEDED, fresh(following).error
    assert operation.status == Operation.Status.FAILED
    assert korean_of(operation.error) == korean
    assert english == "The worker stopped during backup; its lease expired."
    assert backup.status == Backup.Status.FAILED
    assert korean_of(backup.error) == korean
    assert DBTaskResult.objects.get(pk=operation.task_id).status == TaskResultStatus.FAILED
    assert nothing_running() == {}
    assert not Path(backup.file_path).exists(), "the partial dump is removed"
    assert not scratch.exists(), "the dead worker's scratch folder is removed"
    assert list(backup_dir.iterdir()) == []


@pytest.mark.usefixtures("restores_from_a_dump")
def test_a_worker_survives_the_database_cutting_it_off_during_a_backup(
    fault_env, backup_dir, tmp_path
):
    worker = start_worker(fault_env, "dp-cut-off", tmp_path)
    try:
        with pg_dump_held() as lock:
            operation = start_operation(
                kind=Operation.Kind.BACKUP, parameters={}, acting_user=None, requested_by="test"
            )
            backup = backup_in_pg_dump(operation)
            assert terminate_backends(keep=lock) >= 3  # pg_dump, its snapshot, the worker's
        connections.close_all()  # this test's own connections were cut too
        tenant_context.clear()
        with tenant_context.platform_context():
            wait_for(lambda: fresh(operation).is_finished, "the worker to record the failure")
            assert worker.poll() is None, "the worker is still running"
            following = start_operation(
                kind=Operation.Kind.VERIFY, parameters={}, acting_user=None, requested_by="test"
            )
            wait_for(lambda: fresh(following).is_finished, "the next job")
            operation = fresh(operation)
            backup.refresh_from_db()
            korean, english = in_korean_and_english(holder="", lost_connection=True)
            assert fresh(following).status == Operation.Status.SUCCEEDED, fresh(following).error
            assert operation.status == Operation.Status.FAILED
            assert korean_of(operation.error) == korean
            assert english == "The database connection was lost during backup."
            assert backup.status == Backup.Status.FAILED
            assert DBTaskResult.objects.get(pk=operation.task_id).status == TaskResultStatus.FAILED
            assert nothing_running() == {}
            assert list(backup_dir.iterdir()) == [], "no partial dump remains"
    finally:
        stop(worker)


@pytest.mark.usefixtures("restores_from_a_dump")
def test_a_backup_command_killed_midway_is_failed_once_its_lease_expires(
    fault_env, backup_dir, tmp_path
):
    with pg_dump_held() as lock:
        command = subprocess.Popen(
            manage("backup"), cwd=ROOT, env=fault_env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            operation = wait_for(
                lambda: (
                    Operation.objects.filter(kind=Operation.Kind.BACKUP, status="running")
                    .order_by("-pk")
                    .first()
                ),
                "the command's operation",
            )
            backup = backup_in_pg_dump(operation)
            assert backup.lease_holder.startswith("cli-")
            assert f"-{command.pid}-" in backup.lease_holder
            os.kill(command.pid, signal.SIGKILL)
            command.wait(timeout=20)
        finally:
            stop(command)
        terminate_backends(keep=lock, application_name="pg_dump")

    assert leases.reap_expired() == [], "not before the lease has expired"
    time.sleep(float(LEASE_SECONDS) + 0.5)
    assert leases.reap_expired() == [operation.pk]
    operation = fresh(operation)
    backup.refresh_from_db()
    korean, english = in_korean_and_english(holder=backup.lease_holder)
    assert operation.status == Operation.Status.FAILED
    assert korean_of(operation.error) == korean
    assert english == "The command stopped during backup; its lease expired."
    assert backup.status == Backup.Status.FAILED
    assert nothing_running() == {}
    assert list(backup_dir.iterdir()) == []
