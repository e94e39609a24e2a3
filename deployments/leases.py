"""Leases: a running operation belongs to a live process, or it is failed and cleaned.

Every process that runs operations (the worker, a ``manage.py backup`` and the
like) holds one lease id. The records it writes while it runs (``Operation``,
``Backup``, ``VerificationRun``, ``Deployment``) carry that id and an expiry,
and the process renews the expiry of all of them every few seconds
(``renew``, from the worker's heartbeat thread or the command's own
``Renewer``). When the process dies, nobody renews: once the expiry has
passed, ``reap_expired`` (run at worker start and on every heartbeat, and at
the start of every command) marks the operation and its records failed with
the reason, fails the queued task's result, and removes the partial files
(the dump being written, the process's scratch folders in the backup dir).

A finish is fenced: an operation whose lease was taken from it is not marked
succeeded afterwards (``services.running``).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, models
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext_noop

from qiro import stored_text

logger = logging.getLogger("qiro.leases")

# Scratch folders of a lease holder in the backup dir: SCRATCH_PREFIX + holder + "-…".
SCRATCH_PREFIX = ".scratch-"
_holder: contextvars.ContextVar[str] = contextvars.ContextVar("qiro_lease_holder", default="")


class LeaseExpired(RuntimeError):
    """Recorded on the task result of an operation whose process stopped holding it."""


def lease_seconds() -> int:
    return int(settings.QIRO_LEASE_SECONDS)


def worker_holder(worker_id: str) -> str:
    return f"worker-{worker_id}"[:64]


def command_holder() -> str:
    """A lease id for a command run here (host, process and a random part)."""
    host = "".join(c for c in socket.gethostname() if c.isalnum())[:20] or "host"
    return f"cli-{host}-{os.getpid()}-{get_random_string(8)}"[:64]


def current_holder() -> str:
    """The lease id records are stamped with (empty outside a leased process)."""
    return _holder.get()


def current_expiry() -> datetime | None:
    """Default expiry of a record created now: leased only inside a holder."""
    return lease_until() if _holder.get() else None


@contextlib.contextmanager
def holding(holder: str) -> Iterator[str]:
    """Records written in the body carry ``holder``'s lease."""
    token = _holder.set(holder)
    try:
        yield holder
    finally:
        _holder.reset(token)


def _leased_models() -> list[type[models.Model]]:
    from deployments.models import Backup, Deployment, Operation, VerificationRun

    return [Operation, Backup, VerificationRun, Deployment]


def _running(model: type[models.Model]) -> str:
    return str(model.Status.RUNNING)  # type: ignore[attr-defined]


def renew(holder: str) -> int:
    """Push back the expiry of every running record ``holder`` holds; how many there are."""
    until = lease_until()
    return sum(
        model._default_manager.filter(lease_holder=holder, status=_running(model)).update(
            lease_expires_at=until
        )
        for model in _leased_models()
    )


def lease_until() -> datetime:
    """The expiry of a lease taken or renewed now."""
    return timezone.now() + timedelta(seconds=lease_seconds())


# --- reaping ----------------------------------------------------------------------


def stopped_reason(
    *, holder: str, kind_label: str | stored_text.Message, lost_connection: bool = False
) -> str:
    """Why an operation failed without finishing, as stored text (read in any language)."""
    if lost_connection:
        msgid = gettext_noop("The database connection was lost during %(kind)s.")
    elif holder.startswith("cli-"):
        msgid = gettext_noop("The command stopped during %(kind)s; its lease expired.")
    else:
        msgid = gettext_noop("The worker stopped during %(kind)s; its lease expired.")
    return stored_text.stored(stored_text.said(msgid, kind=kind_label))


def reap_expired(*, now: datetime | None = None) -> list[int]:
    """Fail every running operation and record whose lease has expired; ids of the operations."""
    now = now or timezone.now()
    from deployments.models import Operation

    expired = Operation.objects.filter(
        status=Operation.Status.RUNNING, lease_expires_at__lt=now
    ).values_list("pk", "lease_holder")
    reaped = [pk for pk, holder in expired if _fail_operation(pk, holder=holder, now=now)]
    _fail_records(
        lambda model: model._default_manager.filter(
            models.Q(operation_id__in=reaped) | models.Q(lease_expires_at__lt=now),
            status=_running(model),
        ),
        lost_connection=False,
    )
    remove_orphan_scratch()
    return reaped


def fail_held(holder: str, *, lost_connection: bool = True) -> list[int]:
    """Fail what ``holder`` (this process) still holds running: its task died under it."""
    from deployments.models import Operation

    held = Operation.objects.filter(
        status=Operation.Status.RUNNING, lease_holder=holder
    ).values_list("pk", flat=True)
    failed = [
        pk
        for pk in held
        if _fail_operation(pk, holder=holder, now=timezone.now(), lost_connection=lost_connection)
    ]
    _fail_records(
        lambda model: model._default_manager.filter(lease_holder=holder, status=_running(model)),
        lost_connection=lost_connection,
    )
    remove_scratch(holder)
    return failed


def _fail_operation(pk: int, *, holder: str, now: datetime, lost_connection: bool = False) -> bool:
    """Mark one operation failed (if it is still running under ``holder``) and its task result."""
    from deployments.models import Operation

    operation = Operation.objects.filter(pk=pk).first()
    if operation is None:
        return False
    reason = stopped_reason(
        holder=holder,
        kind_label=stored_text.label(operation.get_kind_display(), lower=True),
        lost_connection=lost_connection,
    )
    won = Operation.objects.filter(
        pk=pk, status=Operation.Status.RUNNING, lease_holder=holder
    ).update(status=Operation.Status.FAILED, finished_at=now, error=reason)
    if won:
        _fail_task_result(operation.task_id, reason=stored_text.read(reason), now=now)
        logger.warning("operation %s failed: %s", pk, stored_text.read(reason))
    return bool(won)


def _fail_task_result(task_id: str, *, reason: str, now: datetime) -> None:
    if not task_id:
        return
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(pk=task_id, status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        exception_class_path=f"{LeaseExpired.__module__}.{LeaseExpired.__qualname__}",
        traceback=reason,
    )


def _fail_records(select: Any, *, lost_connection: bool) -> None:
    """Backups, verification runs and deployments left running: failed, files removed."""
    from deployments.models import Backup, Deployment, Operation, VerificationRun

    def reason_for(holder: str, kind: stored_text.Message) -> str:
        return stopped_reason(holder=holder, kind_label=kind, lost_connection=lost_connection)

    now = timezone.now()
    for backup in select(Backup):
        reason = reason_for(
            backup.lease_holder, stored_text.label(Operation.Kind.BACKUP.label, lower=True)
        )
        if Backup.objects.filter(pk=backup.pk, status=Backup.Status.RUNNING).update(
            status=Backup.Status.FAILED, error=reason
        ):
            remove_partial_dump(backup.file_path)
    select(VerificationRun).update(status=VerificationRun.Status.FAILED, finished_at=now)
    for deployment in select(Deployment):
        Deployment.objects.filter(pk=deployment.pk, status=Deployment.Status.RUNNING).update(
            status=Deployment.Status.FAILED,
            finished_at=now,
            reason=reason_for(
                deployment.lease_holder, stored_text.label(Operation.Kind.DEPLOY.label, lower=True)
            ),
        )


# --- partial files ----------------------------------------------------------------


def remove_partial_dump(file_path: str) -> None:
    """Delete an unfinished dump: a file or a directory archive inside the backup dir."""
    if not file_path:
        return
    path = Path(file_path)
    folder = Path(settings.QIRO_BACKUP_DIR).resolve()
    if path.resolve().parent != folder:
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def scratch_prefix(holder: str | None = None) -> str | None:
    """Prefix of the current holder's scratch folders (None outside a lease)."""
    holder = current_holder() if holder is None else holder
    return f"{SCRATCH_PREFIX}{holder}-" if holder else None


def remove_scratch(holder: str) -> None:
    prefix = scratch_prefix(holder)
    folder = Path(settings.QIRO_BACKUP_DIR)
    if prefix and folder.is_dir():
        for entry in folder.glob(f"{prefix}*"):
            shutil.rmtree(entry, ignore_errors=True)


def live_holders() -> set[str]:
    """Holders with a running, unexpired record."""
    now = timezone.now()
    found: set[str] = set()
    for model in _leased_models():
        found |= set(
            model._default_manager.filter(status=_running(model), lease_expires_at__gte=now)
            .exclude(lease_holder="")
            .values_list("lease_holder", flat=True)
        )
    return found


def remove_orphan_scratch() -> None:
    """Scratch folders whose holder holds nothing running any more."""
    folder = Path(settings.QIRO_BACKUP_DIR)
    if not folder.is_dir():
        return
    alive = live_holders() | {current_holder()}
    for entry in folder.glob(f"{SCRATCH_PREFIX}*"):
        holder = entry.name[len(SCRATCH_PREFIX) :].rsplit("-", 1)[0]
        if holder not in alive:
            shutil.rmtree(entry, ignore_errors=True)


# --- renewing from a thread ---------------------------------------------------------


class Ticker(threading.Thread):
    """Runs ``tick`` in the platform context every ``wait_seconds()`` until stopped.

    Survives a lost database: a failed tick is logged (``failure``), the
    thread's connections are closed, and the next tick connects again.
    """

    log = logger
    failure = "tick failed, retrying: %s"

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stopped = threading.Event()

    def tick(self) -> None:
        raise NotImplementedError

    def wait_seconds(self) -> float:
        raise NotImplementedError

    def ticking(self) -> contextlib.AbstractContextManager[Any]:
        """What the ticks run in, inside the platform context (by default nothing more)."""
        return contextlib.nullcontext()

    def run(self) -> None:
        from qiro import tenant_context

        with tenant_context.platform_context(), self.ticking():
            try:
                while not self.stopped.is_set():
                    try:
                        self.tick()
                    except Exception as error:  # the thread must outlive any one failure
                        self.log.warning(self.failure, error)
                        connections.close_all()
                    self.stopped.wait(self.wait_seconds())
            finally:
                connections.close_all()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


class Renewer(Ticker):
    """Renews one holder's leases every ``interval`` seconds until stopped."""

    failure = "lease renewal failed, retrying: %s"

    def __init__(self, holder: str, *, interval: float | None = None) -> None:
        super().__init__(name="qiro-lease-renewer")
        self.holder = holder
        self.interval = interval if interval is not None else max(1.0, lease_seconds() / 4)

    def tick(self) -> None:
        renew(self.holder)

    def wait_seconds(self) -> float:
        return self.interval


@contextlib.contextmanager
def command_lease() -> Iterator[str]:
    """A command that runs an operation itself holds its own lease, renewed by a thread.

    It first fails what others left running with an expired lease, so a
    command started after a crash does not run beside a ghost.
    """
    with holding(command_holder()) as holder:
        reap_expired()
        renewer = Renewer(holder)
        renewer.start()
        try:
            yield holder
        finally:
            renewer.stop()
