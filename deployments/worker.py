"""The task worker: django-tasks-db's worker loop in the platform context, leased and resilient.

* A heartbeat thread writes ``WorkerHeartbeat.last_seen``, renews the leases
  of what this process runs, and fails what others left running with an
  expired lease (``deployments.leases``), every few seconds, even during a
  long task.
* A lost database connection does not end the process: the loop waits for
  the database to answer again (with backoff), fails the operation that was
  running when the connection went (its outcome cannot be known), and goes
  on with the queue.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from django.db import Error as DatabaseFailure
from django.db import connections
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from deployments import leases
from deployments.models import WorkerHeartbeat
from qiro import tenant_context

logger = logging.getLogger("qiro.worker")

HEARTBEAT_SECONDS = 5.0
RECONNECT_MAX_SECONDS = 30.0


def heartbeat_seconds() -> float:
    """Often enough that a lease is renewed several times before it can expire."""
    return min(HEARTBEAT_SECONDS, max(0.5, leases.lease_seconds() / 3))


class Heartbeat(threading.Thread):
    """Beats, renews this worker's leases and reaps expired ones, until stopped."""

    def __init__(self, worker_id: str, holder: str = "") -> None:
        super().__init__(name="qiro-worker-heartbeat", daemon=True)
        self.worker_id = worker_id
        self.holder = holder
        self.started_at = timezone.now()
        self.stopped = threading.Event()

    def beat(self) -> None:
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={
                "hostname": socket.gethostname()[:255],
                "pid": os.getpid(),
                "started_at": self.started_at,
                "last_seen": timezone.now(),
            },
        )
        if self.holder:
            leases.renew(self.holder)
            leases.reap_expired()

    def run(self) -> None:
        with tenant_context.platform_context(), leases.holding(self.holder):
            try:
                while not self.stopped.is_set():
                    try:
                        self.beat()
                    except Exception as error:  # the thread must outlive any one failure
                        logger.warning("heartbeat failed, retrying: %s", error)
                        connections.close_all()
                    self.stopped.wait(heartbeat_seconds())
            finally:
                connections.close_all()


def until_connected(action: Callable[[], object], *, first_delay: float = 0.5) -> None:
    """Run ``action`` until the database lets it finish, waiting longer after each failure."""
    delay = first_delay
    while True:
        try:
            action()
            return
        except DatabaseFailure as error:
            logger.warning("database unavailable (%s); retrying in %.1f s", error, delay)
            connections.close_all()
            time.sleep(delay)
            delay = min(RECONNECT_MAX_SECONDS, delay * 2)


def run_worker(
    *, worker_id: str, interval: float = 1.0, batch: bool = False, max_tasks: int | None = None
) -> None:
    """Process queued tasks until stopped (or, with ``batch``, until the queue is empty)."""
    holder = leases.worker_holder(f"{worker_id}-{os.getpid()}")
    heartbeat = Heartbeat(worker_id, holder)
    with tenant_context.platform_context(), leases.holding(holder):
        until_connected(heartbeat.beat)
        heartbeat.start()
        worker = Worker(
            queue_names=["default"],
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=False,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        try:
            if not batch:
                worker.configure_signals()
            while True:
                try:
                    worker.run()
                    return
                except DatabaseFailure as error:
                    logger.warning("worker lost the database (%s); reconnecting", error)
                    connections.close_all()
                    until_connected(lambda: leases.fail_held(holder, lost_connection=True))
                    if not worker.running:  # asked to stop meanwhile
                        return
        finally:
            heartbeat.stopped.set()
            heartbeat.join(timeout=10)
