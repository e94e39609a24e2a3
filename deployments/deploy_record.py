"""A deploy's record: its steps on the ``Deployment`` row, its progress on the operation.

Each step's detail is a message (``qiro.stored_text``), read in the reader's
language on the deployment's page; a failed step keeps the server's own text.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_noop

from deployments.models import Deployment, Operation
from deployments.services import log
from qiro import stored_text
from qiro.db import schema_migrations
from qiro.stored_text import Message

STEPS = ("backup", "migrate", "verify", "health", "restore")
STATUS_LABELS = {
    "running": gettext_noop("running"), "done": gettext_noop("done"),
    "skipped": gettext_noop("skipped"), "failed": gettext_noop("failed"),
}  # fmt: skip
STEP_LABELS = {
    "backup": gettext_noop("Backup"), "migrate": gettext_noop("Migrate"),
    "verify": gettext_noop("Verify"), "health": gettext_noop("Health check"),
    "restore": gettext_noop("Restore"),
}  # fmt: skip
PROGRESS_EVERY = 2.0  # seconds between progress writes while schemas are migrated

# A listener for per-schema progress (the CLI's progress bar), set around a run.
listener: contextvars.ContextVar[Callable[[schema_migrations.Progress], None] | None] = (
    contextvars.ContextVar("qiro_deploy_progress", default=None)
)


def record(
    deployment: Deployment, name: str, status: str, detail: Message | list[Message] | str = ""
) -> None:
    """One step's state; ``detail`` a message (``qiro.stored_text``) or a server's own text."""
    detail = detail if isinstance(detail, str) else stored_text.stored(detail)
    steps = [s for s in deployment.steps if s["name"] != name]
    previous: dict[str, Any] = next((s for s in deployment.steps if s["name"] == name), {})
    now = timezone.now().isoformat()
    steps.append(
        {
            "name": name,
            "status": status,
            "started": previous.get("started", now),
            "finished": now if status != "running" else None,
            "detail": detail[-4000:],
            **({"progress": previous["progress"]} if "progress" in previous else {}),
        }
    )
    deployment.steps = steps
    # The row may have been re-created by a whole-database restore: save by pk.
    Deployment.objects.update_or_create(
        pk=deployment.pk,
        defaults={
            "steps": steps,
            "status": deployment.status,
            "reason": deployment.reason,
            "backup_id": deployment.backup_id,
            "verification_id": deployment.verification_id,
            "finished_at": deployment.finished_at,
            "operation_id": deployment.operation_id,
        },
    )


def progress_writer(
    operation: Operation | None, deployment: Deployment, base: int
) -> Callable[[schema_migrations.Progress], None]:
    """Per-schema progress onto the deployment and its operation (at most every 2 s)."""
    each = listener.get()
    last = [0.0]
    failed = [0]

    def write(p: schema_migrations.Progress) -> None:
        if each is not None:
            each(p)
        failed[0] += bool(p.error)
        now = time.monotonic()
        if not p.error and p.done < p.total and now - last[0] < PROGRESS_EVERY:
            return
        last[0] = now
        figures = {
            "done": p.done, "total": p.total, "failed": failed[0],
            "remaining_seconds": round(p.remaining_seconds), "last_schema": p.schema,
        }  # fmt: skip
        for entry in deployment.steps:
            if entry["name"] == "migrate":
                entry["progress"] = figures
        Deployment.objects.filter(pk=deployment.pk).update(steps=deployment.steps)
        if operation is None:
            return
        Operation.objects.filter(pk=operation.pk).update(
            steps_done=base + p.done, steps_total=base + p.total + len(STEPS) - 2
        )
        if p.error:
            log(operation, gettext_noop("%(schema)s failed: %(error)s"), schema=p.schema,
                error=p.error)  # fmt: skip
        else:
            log(
                operation,
                gettext_noop(
                    "%(done)d of %(total)d schemas migrated, %(failed)d failed, "
                    "about %(seconds)d s left"
                ),
                done=p.done, total=p.total, failed=failed[0], seconds=round(p.remaining_seconds),
            )  # fmt: skip

    return write


def steps_html(deployment: Deployment) -> SafeString:
    """The steps as a table people read: step, state, when, and the detail in their language."""

    def when(value: str | None) -> str:
        moment = parse_datetime(value) if value else None
        return timezone.localtime(moment).strftime("%m-%d %H:%M:%S") if moment else "—"

    rows = format_html_join(
        "",
        '<tr><td class="nowrap">{}</td><td class="nowrap">{}</td><td class="nowrap">{}</td>'
        '<td class="nowrap">{}</td><td class="detail">{}</td></tr>',
        (
            (
                gettext(STEP_LABELS.get(entry["name"], entry["name"])),
                gettext(STATUS_LABELS.get(entry["status"], entry["status"])),
                when(entry.get("started")),
                when(entry.get("finished")),
                stored_text.read(entry.get("detail") or "")[:2000] or "—",
            )
            for entry in deployment.steps
        ),
    )
    return format_html(
        '<table class="qiro-steps"><thead><tr><th class="nowrap">{}</th><th class="nowrap">{}</th>'
        '<th class="nowrap">{}</th><th class="nowrap">{}</th><th>{}</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        gettext("Step"), gettext("State"), gettext("Started"), gettext("Finished"),
        gettext("Detail"), rows,
    )  # fmt: skip
