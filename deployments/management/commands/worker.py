"""Run the background task worker (backups, restores, verification, deploys)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.crypto import get_random_string

from deployments.worker import run_worker


class Command(BaseCommand):
    help = "Run queued tasks in the platform context until Ctrl-C (or --batch: until none is left)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=1.0)
        parser.add_argument("--batch", action="store_true")
        parser.add_argument("--max-tasks", type=int, default=None)
        parser.add_argument("--worker-id", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        run_worker(
            worker_id=options["worker_id"] or get_random_string(32),
            interval=options["interval"],
            batch=options["batch"],
            max_tasks=options["max_tasks"],
        )
