"""The task worker: django-tasks-db's worker loop in the platform context, leased and resilient.

* A heartbeat thread writes ``WorkerHeartbeat.last_seen``, renews the leases
  of what this process runs, and fails what others left running with an
  expired lease (``deployments.leases``), every few seconds, even during a
  long task.
* A lost database connection does not end the process: the loop waits for
  the database to answer again (with backoff), fails the operation that was
  running when the connection went (its outcome cannot be known), and goes
  on with the queue.
* Between drains of the queue, the loop runs the schedules that are due
  (``deployments.scheduling.runner``: one worker per due job, however many
  run) and, every ``ALERT_SECONDS``, the alerts (``scheduling.alerts``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable

from django.db import Error as DatabaseFailure
from django.db import connections
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from deployments import leases
from deployments.models import WorkerHeartbeat
from deployments.scheduling import alerts, runner
from qiro import tenant_context

logger = logging.getLogger("qiro.worker")

HEARTBEAT_SECONDS = 5.0
RECONNECT_MAX_SECONDS = 30.0
ALERT_SECONDS = 15.0


def heartbeat_seconds() -> float:
    """Often enough that a lease is renewed several times before it can expire."""
    return min(HEARTBEAT_SECONDS, max(0.5, leases.lease_seconds() / 3))


class Heartbeat(leases.Ticker):
    """Beats, renews this worker's leases and reaps expired ones, until stopped."""

    log = logger
    failure = "heartbeat failed, retrying: %s"

    def __init__(self, worker_id: str, holder: str = "") -> None:
        super().__init__(name="qiro-worker-heartbeat")
        self.worker_id = worker_id
        self.holder = holder
        self.started_at = timezone.now()

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
            runner.renew(self.holder)
            leases.reap_expired()
            runner.reap_expired()

    def tick(self) -> None:
        self.beat()

    def wait_seconds(self) -> float:
        return heartbeat_seconds()

    def ticking(self) -> contextlib.AbstractContextManager[str]:
        return leases.holding(self.holder)


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


class Routine:
    """The periodic part of the loop: due schedules every turn, alerts now and then."""

    def __init__(self, *, alert_seconds: float = ALERT_SECONDS) -> None:
        self.alert_seconds = alert_seconds
        self.alerted_at: float | None = None

    def turn(self) -> None:
        runner.run_due()
        if self.alerted_at is None or time.monotonic() - self.alerted_at >= self.alert_seconds:
            alerts.evaluate()
            self.alerted_at = time.monotonic()


def run_worker(
    *, worker_id: str, interval: float = 1.0, batch: bool = False, max_tasks: int | None = None
) -> None:
    """Run due schedules and queued tasks until stopped (``batch``: once, then the queue)."""
    holder = leases.worker_holder(f"{worker_id}-{os.getpid()}")
    heartbeat = Heartbeat(worker_id, holder)
    routine = Routine()
    with tenant_context.platform_context(), leases.holding(holder):
        until_connected(heartbeat.beat)
        heartbeat.start()
        # In batch mode django-tasks-db's loop returns once the queue is empty, so
        # the schedules get their turn between two drains of the queue.
        worker = Worker(
            queue_names=["default"],
            interval=interval,
            batch=True,
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
                    routine.turn()
                    worker.run()
                    if batch or not worker.running or _reached(worker, max_tasks):
                        return
                    time.sleep(interval)
                except DatabaseFailure as error:
                    logger.warning("worker lost the database (%s); reconnecting", error)
                    connections.close_all()
                    until_connected(lambda: _fail_held(holder))
                    if not worker.running:  # asked to stop meanwhile
                        return
        finally:
            heartbeat.stop()


def _reached(worker: Worker, max_tasks: int | None) -> bool:
    return max_tasks is not None and worker._run_tasks >= max_tasks


def _fail_held(holder: str) -> None:
    leases.fail_held(holder, lost_connection=True)
    runner.fail_held(holder)
