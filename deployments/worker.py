"""The task worker: django-tasks-db's worker loop in the platform context, with a heartbeat."""

from __future__ import annotations

import os
import socket
import threading

from django.db import connections
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from deployments.models import WorkerHeartbeat
from qiro import tenant_context

HEARTBEAT_SECONDS = 5.0


class Heartbeat(threading.Thread):
    """Writes ``WorkerHeartbeat.last_seen`` every few seconds, even during a long task."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(name="qiro-worker-heartbeat", daemon=True)
        self.worker_id = worker_id
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

    def run(self) -> None:
        with tenant_context.platform_context():
            try:
                while not self.stopped.is_set():
                    self.beat()
                    self.stopped.wait(HEARTBEAT_SECONDS)
            finally:
                connections.close_all()


def run_worker(
    *, worker_id: str, interval: float = 1.0, batch: bool = False, max_tasks: int | None = None
) -> None:
    """Process queued tasks until stopped (or, with ``batch``, until the queue is empty)."""
    heartbeat = Heartbeat(worker_id)
    with tenant_context.platform_context():
        heartbeat.beat()
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
            worker.run()
        finally:
            heartbeat.stopped.set()
            heartbeat.join(timeout=10)
