"""The scheduled jobs that wrap what exists already, each ``def job(*, now) -> str``.

Short jobs do their work here, in the worker's loop. Long ones (verification,
backup, test restore) queue the existing ``Operation``, which the worker then
runs with its lease and progress page; the run records which operation it
queued.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_noop as N_

from deployments.models import Backup, Operation
from qiro.stored_text import said, stored


class NothingToDo(RuntimeError):
    """The job cannot run now, and says why (a failed run)."""


def expire_sessions(*, now: datetime) -> str:
    """What ``manage.py expire_sessions`` does: every company schema, then public."""
    from sysauth.actions import clean_sessions_everywhere

    count = clean_sessions_everywhere()
    return stored(said(N_("Sessions cleaned in %(count)d companies and public."), count=count))


def refill_schema_pool(*, now: datetime) -> str:
    """Keep ``QIRO_SCHEMA_POOL_SIZE`` ready schemas, so approvals stay on the fast path."""
    from tenants.schema_pool import fill_schema_pool

    built = fill_schema_pool(size=settings.QIRO_SCHEMA_POOL_SIZE)
    return stored(
        said(
            N_("%(count)d pool schemas built (pool size %(size)d)."),
            count=len(built),
            size=settings.QIRO_SCHEMA_POOL_SIZE,
        )
    )


def maintain_token_partitions(*, now: datetime) -> str:
    """Monthly token partitions ahead, and those past retention dropped."""
    from registration.partitions import maintain_token_partitions as maintain

    changes = maintain(
        months_ahead=settings.QIRO_TOKEN_PARTITIONS_AHEAD,
        retention_months=settings.QIRO_TOKEN_RETENTION_MONTHS,
    )
    return stored(
        said(
            N_("Partitions created: %(created)s; dropped: %(dropped)s."),
            created=", ".join(changes.created) or "-",
            dropped=", ".join(changes.dropped) or "-",
        )
    )


def _queue(kind: str, parameters: dict[str, object] | None = None) -> str:
    from deployments import actions
    from deployments.scheduling import runner

    operation = actions.start_operation(
        kind=kind, parameters=dict(parameters or {}), acting_user=None,
        requested_by=runner.requester(),
    )  # fmt: skip
    runner.attach_operation(operation)
    with translation.override(None):  # the kind's message id, read later in any language
        kind_msgid = str(operation.get_kind_display())
    return stored(
        said(
            N_("%(operation)s is queued."),
            operation=said(N_("%(kind)s #%(id)d"), kind=said(kind_msgid), id=operation.pk),
        )
    )


def verify_database(*, now: datetime) -> str:
    return _queue(Operation.Kind.VERIFY)


def back_up_database(*, now: datetime) -> str:
    """A whole-database backup; its end applies the retention (``QIRO_BACKUP_KEEP``)."""
    return _queue(Operation.Kind.BACKUP, {"company_schema": ""})


def test_restore_newest_backup(*, now: datetime) -> str:
    newest = (
        Backup.objects.filter(status=Backup.Status.OK, scope=Backup.Scope.DATABASE)
        .order_by("-created_at")
        .first()
    )
    if newest is None:
        raise NothingToDo(
            stored(said(N_("There is no complete whole-database backup to test-restore.")))
        )
    return _queue(Operation.Kind.TEST_RESTORE, {"backup": newest.pk})
