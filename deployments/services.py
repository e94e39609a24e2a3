"""Operations (long jobs with progress) and verification runs.

Records are platform data in ``public``: they are written through whichever
alias the caller's context selects (the platform role in admin requests and
the worker, the owner in ``manage.py`` commands), each write committed at
once so that the admin's progress page sees it while the job runs.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db.models import F, TextField, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext_noop

from deployments import leases
from deployments.models import CheckResult, Operation, VerificationRun
from deployments.verification import Verifier, check_names, check_title
from deployments.verification.base import FAIL, PASS, SKIP
from qiro import stored_text
from qiro.db import pg
from qiro.db.roles import role_name

STORE_BATCH = 2000


def create_operation(
    *, kind: str, requested_by: str = "", parameters: dict[str, Any] | None = None
) -> Operation:
    """A queued operation (the task that runs it is enqueued by the caller)."""
    return Operation.objects.create(
        kind=kind, requested_by=requested_by, parameters=parameters or {}
    )


def log(operation: Operation, msgid: str, /, **params: Any) -> None:
    """Append a line to the operation's log (committed at once).

    The line keeps the message and its parameters (``qiro.stored_text``), so
    that each reader reads it in their own language; mark ``msgid`` with
    ``gettext_noop`` where it is written.
    """
    line = stored_text.stamped(stored_text.said(msgid, **params))
    Operation.objects.filter(pk=operation.pk).update(
        log=Concat(F("log"), Value(f"{line}\n"), output_field=TextField())
    )


def step(operation: Operation, msgid: str, /, *, total: int | None = None, **params: Any) -> None:
    """One more step done, with a line in the log."""
    updates: dict[str, Any] = {"steps_done": F("steps_done") + 1}
    if total is not None:
        updates["steps_total"] = total
    Operation.objects.filter(pk=operation.pk).update(**updates)
    log(operation, msgid, **params)


class LeaseLost(RuntimeError):
    """The operation was failed by a reaper while it ran: its result is not recorded."""


@contextmanager
def running(operation: Operation, *, steps_total: int = 0) -> Iterator[Operation]:
    """Mark the operation running; succeeded or failed (with the error) when the body ends.

    Inside a lease holder (the worker, a command), the operation takes the
    holder's lease for as long as it runs, and its end is fenced: if a reaper
    failed it meanwhile (its lease had expired), it stays failed.
    """
    holder = leases.current_holder()
    Operation.objects.filter(pk=operation.pk).update(
        status=Operation.Status.RUNNING,
        started_at=timezone.now(),
        steps_total=steps_total,
        lease_holder=holder,
        lease_expires_at=leases.lease_until() if holder else None,
    )
    still_held = Operation.objects.filter(
        pk=operation.pk, status=Operation.Status.RUNNING, lease_holder=holder
    )
    try:
        yield operation
    except BaseException as error:
        still_held.update(
            status=Operation.Status.FAILED,
            finished_at=timezone.now(),
            error=stored_text.stored([*stored_text.said_by(error), traceback.format_exc(limit=8)]),
        )
        raise
    if not still_held.update(
        status=Operation.Status.SUCCEEDED, finished_at=timezone.now(), steps_done=F("steps_total")
    ):
        operation.refresh_from_db()
        raise LeaseLost(stored_text.read(operation.error) or f"{operation} is no longer running")
    operation.refresh_from_db()


def runtime_roles() -> dict[str, str]:
    return {"app": role_name("app"), "platform": role_name("platform")}


def run_verification(
    *,
    operation: Operation | None = None,
    dbname: str | None = None,
    observations: bool = True,
    progress: Callable[[str], None] | None = None,
) -> VerificationRun:
    """Verify a database (the live one unless ``dbname``) and store every result.

    The catalog reads run on a dedicated owner connection; the run and its
    results are stored through the caller's alias.
    """
    started = time.monotonic()
    with pg.connect(dbname) as conn:
        database = str(conn.info.dbname)
        run = VerificationRun.objects.create(operation=operation, database_name=database)
        names = check_names(observations=observations)

        def on_check(name: str) -> None:
            if operation is not None:
                step(
                    operation,
                    gettext_noop("check %(name)s"),
                    total=len(names) + 1,
                    name=stored_text.said(check_title(name)),
                )
            if progress is not None:
                progress(name)

        verifier = Verifier(conn, runtime_roles=runtime_roles(), progress=on_check)
        results = verifier.run(observations=observations)
    rows = [
        CheckResult(
            run=run,
            check_name=r.check,
            schema_name=r.schema,
            outcome=r.outcome,
            expected=r.expected,
            found=r.found,
        )
        for r in results
    ]
    CheckResult.objects.bulk_create(rows, batch_size=STORE_BATCH)
    failed = sum(r.outcome == FAIL for r in results)
    # Fenced like an operation: a run a reaper failed meanwhile stays failed.
    VerificationRun.objects.filter(pk=run.pk, status=VerificationRun.Status.RUNNING).update(
        status=VerificationRun.Status.FAILED if failed else VerificationRun.Status.PASSED,
        finished_at=timezone.now(),
        duration_seconds=time.monotonic() - started,
        schema_count=len(verifier.all_schemas),
        passed=sum(r.outcome == PASS for r in results),
        failed=failed,
        skipped=sum(r.outcome == SKIP for r in results),
    )
    run.refresh_from_db()
    if operation is not None:
        step(
            operation,
            gettext_noop("stored %(count)d results: %(failed)d failed, %(passed)d passed"),
            count=len(rows), failed=run.failed, passed=run.passed,
        )  # fmt: skip
    return run
