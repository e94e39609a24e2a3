"""Deploy: migrate what is behind (backup first), verify, health check; progress bar per schema."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, no_translations

from deployments import deploys
from deployments.models import Deployment, Operation
from qiro.db.schema_migrations import Progress
from qiro.stored_text import read

from ._operation import run_here

BAR_WIDTH = 30


class ProgressBar:
    """``[#####.....] 412/1000 schemas, 0 failed, ~25 s left`` on one line of stderr.

    On a terminal the line is redrawn for each schema; written to a file or a
    pipe (a CI log, ``2> deploy.log``) it is a line of its own at each tenth of
    the way and at the end, not a thousand carriage returns.
    """

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.failed = 0
        self.shown = False
        self.redrawn = bool(getattr(stream, "isatty", lambda: False)())
        self.tenth = -1

    def __call__(self, progress: Progress) -> None:
        self.failed += bool(progress.error)
        filled = round(BAR_WIDTH * progress.done / progress.total) if progress.total else BAR_WIDTH
        line = (
            f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {progress.done}/{progress.total} "
            f"schemas, {self.failed} failed, ~{progress.remaining_seconds:.0f} s left "
        )
        if self.redrawn:
            self.stream.write("\r" + line, ending="")
            self.stream.flush()
            self.shown = True
        else:
            tenth = 10 * progress.done // progress.total if progress.total else 10
            if tenth != self.tenth or progress.done == progress.total:
                self.tenth = tenth
                self.stream.write(line.rstrip())
        if progress.error:  # below the redrawn line, or the next line of its own
            below = "\n" if self.redrawn else ""
            self.stream.write(f"{below}{progress.schema}: {progress.error}")

    def end(self) -> None:
        if self.shown:
            self.stream.write("")


class Command(BaseCommand):
    help = (
        "Migrate the schemas that lack a migration (whole-database backup first, "
        "none when nothing is behind), verify, health check."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--executor", choices=deploys.EXECUTORS, default=deploys.DEFAULT_EXECUTOR,
            help="fast: only what is behind, SQL rendered once, in parallel (default); "
                 "standard / multiprocessing: django-tenants' migrate_schemas over every schema",
        )  # fmt: skip
        parser.add_argument(
            "--rollback", choices=deploys.ROLLBACKS, default="none",
            help="on failure: none = stop, keep the schemas done (deploy again continues); "
                 "changed = put back only the schemas this deploy migrated, from the pre-deploy "
                 "backup; database = restore that backup over the whole database",
        )  # fmt: skip
        parser.add_argument(
            "--connections", type=int, default=None,
            help="owner connections migrating schemas at once (default QIRO_DEPLOY_CONNECTIONS, "
                 "else the CPU count)",
        )  # fmt: skip

    @no_translations  # the command speaks English, stored messages too
    def handle(self, *args: Any, **options: Any) -> None:
        parameters = {"executor": options["executor"], "rollback": options["rollback"]}
        if options["connections"]:
            parameters["workers"] = options["connections"]
        bar = ProgressBar(self.stderr)
        try:
            with deploys.progress_listener(bar):
                _operation, outcome = run_here(Operation.Kind.DEPLOY, parameters)
        except CommandError:
            bar.end()
            latest = Deployment.objects.using("owner").order_by("-pk").first()
            if latest is not None:
                for step in latest.steps:
                    self.stderr.write(f"  {step['name']}: {step['status']}")
                self.stderr.write(
                    f"Deployment #{latest.pk}: {latest.get_status_display()}: {read(latest.reason)}"
                )
            raise
        bar.end()
        deployment = Deployment.objects.using("owner").get(pk=outcome["deployment"])
        for step in deployment.steps:
            self.stdout.write(f"  {step['name']}: {step['status']} {read(step['detail'])[:200]}")
        self.stdout.write(self.style.SUCCESS(f"Deployment #{deployment.pk} succeeded."))
