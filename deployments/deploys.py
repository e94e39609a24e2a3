"""Deploys: find what is behind → backup → migrate it → verify → health check.

Only the schemas that lack a migration are migrated (``qiro.migration_state``,
one set-based read), so a deploy with nothing to migrate costs its checks and
nothing else — and takes no backup, since it changes nothing (the record says
so). The company schemas go through ``qiro.db.schema_migrations``: a canary
first (a ready pool schema when there is one: it holds no company's rows),
then the rest in parallel, each in its own transaction with its migration
records and its security. The first failure stops the run; the schemas done
stay migrated and recorded, and the next deploy continues with the others.

On a failure, ``rollback="changed"`` puts back only the schemas the deploy
migrated, from the pre-deploy backup, and leaves every other company alone;
``rollback="database"`` restores that backup over the whole database.
The ``standard`` / ``multiprocessing`` executors run django-tenants'
``migrate_schemas`` over every schema, for comparison.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import traceback
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from django.core.management import call_command
from django.utils import timezone
from psycopg import sql

from deployments import health
from deployments.backups import create_backup, expected_confirmation, restore_live
from deployments.deploy_state import DeployState, deploy_state
from deployments.models import Deployment, Operation
from deployments.restore_scope import restore_schemas
from deployments.services import log, run_verification, step
from qiro.db import pg, schema_migrations
from qiro.db.roles import apply_public_grants
from qiro.tenant_context import OWNER_ALIAS, owner_context
from tenants.schema_pool import (
    COMMENT_PREFIX,
    POOL_SCHEMA_PREFIX,
    drop_schema,
    migrations_fingerprint,
)

STEPS = ("backup", "migrate", "verify", "health", "restore")
EXECUTORS = ("fast", "standard", "multiprocessing")
ROLLBACKS = ("none", "changed", "database")
DEFAULT_EXECUTOR = "fast"
PROGRESS_EVERY = 2.0  # seconds between progress writes while schemas are migrated

# A listener for per-schema progress (the CLI's progress bar), set around a run.
_listener: contextvars.ContextVar[Callable[[schema_migrations.Progress], None] | None] = (
    contextvars.ContextVar("qiro_deploy_progress", default=None)
)


@contextlib.contextmanager
def progress_listener(listener: Callable[[schema_migrations.Progress], None]) -> Iterator[None]:
    """Call ``listener`` with every schema's progress of the deploys run in the body."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


class DeployFailed(RuntimeError):
    pass


def _record(deployment: Deployment, name: str, status: str, detail: str = "") -> None:
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


def current_state() -> DeployState:
    connection = pg.owner_on_public()
    with connection.cursor() as cursor:
        return deploy_state(cursor)


def migrate_all(*, executor: str = "standard", **_: Any) -> str:
    """``migrate_schemas`` over public and every company schema, as the owner."""
    with owner_context():
        call_command("migrate_schemas", interactive=False, verbosity=0, executor=executor)
    _public_grants()
    return f"migrate_schemas, {executor} executor"


def _public_grants() -> None:
    connection = pg.owner_on_public()
    with connection.cursor() as cursor:
        apply_public_grants(cursor)


def _mark_pool_schema_ready(cursor: Any, schema_name: str) -> None:
    """A migrated pool schema carries today's fingerprint: it may be handed out again."""
    cursor.execute(
        sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
            sql.Identifier(schema_name), sql.Literal(COMMENT_PREFIX + migrations_fingerprint())
        )
    )


def migrate_behind(
    *,
    state: DeployState,
    workers: int | None = None,
    progress: Callable[[schema_migrations.Progress], None] | None = None,
    **_: Any,
) -> str:
    """Migrate only what ``state`` finds behind: public the ordinary way, schemas the fast way."""
    notes = []
    if state.public.outdated:
        with owner_context():
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        _public_grants()
        notes.append("public migrated")
    outdated = state.outdated_schemas
    if not outdated:
        return ", ".join(notes) or "nothing to migrate"
    canary = next(iter(outdated))
    wanted = set().union(*outdated.values())
    plan = schema_migrations.build_plan(wanted, render_schema=canary)
    pool = set(state.pool.outdated)
    work: list[tuple[str, Callable[[], None]]] = []
    for schema_name, missing in outdated.items():
        after = _mark_pool_schema_ready if schema_name in pool else None
        steps = plan.for_schema(missing)
        ordinary = schema_name in state.companies.no_table or schema_name in state.pool.no_table
        if ordinary or any(not s.migration.atomic for s in steps):
            apply = partial(schema_migrations.migrate_schema_ordinarily, schema_name, after=after)
        else:
            apply = partial(schema_migrations.migrate_schema, schema_name, steps, after=after)
        work.append((schema_name, apply))
    done = schema_migrations.run(work, workers=workers, progress=progress)
    notes.append(f"{len(done)} schemas migrated (canary {canary})")
    if plan.fallbacks:
        notes.append(
            "run through Django's operations in each schema: "
            + "; ".join(f"{name} ({why})" for name, why in plan.fallbacks.items())
        )
    return ", ".join(notes)


def _progress_writer(
    operation: Operation | None, deployment: Deployment, base: int
) -> Callable[[schema_migrations.Progress], None]:
    """Per-schema progress onto the deployment and its operation (at most every 2 s)."""
    listener = _listener.get()
    last = [0.0]
    failed = [0]

    def write(p: schema_migrations.Progress) -> None:
        if listener is not None:
            listener(p)
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
            log(operation, f"{p.schema} failed: {p.error}")
        else:
            log(
                operation,
                f"{p.done} of {p.total} schemas migrated, {failed[0]} failed, "
                f"about {p.remaining_seconds:.0f} s left",
            )

    return write


def deploy(
    *,
    operation: Operation | None = None,
    executor: str = DEFAULT_EXECUTOR,
    rollback: str | None = None,
    workers: int | None = None,
    migrate: Callable[..., Any] | None = None,
) -> Deployment:
    """Run a deploy and record every step on a ``Deployment`` row.

    ``rollback`` (default: the operation's ``rollback`` parameter, else
    ``none``): ``none`` stops at the first failure and keeps what is done;
    ``database`` restores the pre-deploy backup over the live database.
    Returns the deployment; its status says whether it succeeded.
    """
    params = operation.parameters if operation is not None else {}
    rollback = rollback or params.get("rollback", "none")
    workers = workers or params.get("workers")
    if migrate is None:
        migrate = migrate_behind if executor == "fast" else migrate_all
    deployment = Deployment.objects.create(operation=operation)
    if operation is not None:
        Operation.objects.filter(pk=operation.pk).update(steps_total=len(STEPS))

    def progress(line: str) -> None:
        if operation is not None:
            step(operation, line)

    changed: list[str] = []  # the schemas this deploy migrated
    current = "backup"
    try:
        state = current_state()
        if executor == "fast" and not state.behind:
            _record(
                deployment, "backup", "skipped",
                f"nothing to migrate in {state.schema_count} schemas, so nothing to back up",
            )  # fmt: skip
            _record(deployment, "migrate", "skipped", f"{state.schema_count} schemas up to date")
            progress("nothing to migrate: no backup needed")
        else:
            _record(deployment, "backup", "running")
            backup = create_backup()
            deployment.backup = backup
            _record(deployment, "backup", "done", f"{backup.file_path} ({backup.size_bytes} bytes)")
            progress("backup done")

            current = "migrate"
            _record(
                deployment, "migrate", "running",
                f"{len(state.outdated_schemas)} of {state.schema_count - 1} schemas behind"
                + (", and public" if state.public.outdated else ""),
            )  # fmt: skip
            writer = _progress_writer(operation, deployment, base=2)

            def on_schema(p: schema_migrations.Progress) -> None:
                if not p.error:
                    changed.append(p.schema)
                writer(p)

            detail = migrate(executor=executor, state=state, workers=workers, progress=on_schema)
            _record(deployment, "migrate", "done", str(detail or f"{executor} executor"))
            progress("migrations applied")

        current = "verify"
        _record(deployment, "verify", "running")
        run = run_verification(observations=False)
        deployment.verification = run
        if run.failed:
            raise DeployFailed(f"verification found {run.failed} failures (run #{run.pk})")
        _record(deployment, "verify", "done", f"{run.passed} checks passed")
        progress("verification passed")

        current = "health"
        _record(deployment, "health", "running")
        report = health.readiness(require_worker=False)
        if not report["ready"]:
            raise DeployFailed(f"health check failed: {report['checks']}")
        _record(deployment, "health", "done", "ready")
        progress("health check passed")
    except Exception as error:
        if rollback == "changed" and executor != "fast":
            rollback = "database"  # migrate_schemas does not say which schemas it changed
        return _failed(deployment, operation, current, error, rollback=rollback, changed=changed)
    deployment.status = Deployment.Status.SUCCEEDED
    deployment.finished_at = timezone.now()
    _record(deployment, "restore", "skipped", "not needed")
    return deployment


def _failed(
    deployment: Deployment,
    operation: Operation | None,
    current: str,
    error: Exception,
    *,
    rollback: str,
    changed: list[str],
) -> Deployment:
    """Record the failure; restore the changed schemas, or the whole database, if asked."""
    deployment.reason = f"{current}: {error}"
    if isinstance(error, schema_migrations.SchemaFailed) and rollback == "none":
        deployment.reason += (
            f"\n{len(error.done)} schemas were migrated before it and stay migrated; "
            "deploy again to continue with the others."
        )
    _record(deployment, current, "failed", traceback.format_exc(limit=6))
    if operation is not None:
        log(operation, f"{current} failed: {error}")
    deployment.finished_at = timezone.now()
    deployment.status = Deployment.Status.FAILED
    if rollback == "none" or deployment.backup is None:
        why = "no backup was made" if deployment.backup is None else "not asked (--rollback none)"
        _record(deployment, "restore", "skipped", why)
        return deployment
    _record(deployment, "restore", "running")
    try:
        if rollback == "changed":
            pool = [s for s in changed if s.startswith(POOL_SCHEMA_PREFIX)]
            companies = [s for s in changed if s not in pool]
            for schema_name in pool:  # they hold no rows: the next fill makes new ones
                drop_schema(schema_name)
            seconds = restore_schemas(backup=deployment.backup, schemas=companies)
            _secure_restored(companies)
            what = (
                f"{len(companies)} company schemas the deploy changed, in {seconds:.1f} s "
                f"({len(pool)} pool schemas dropped)"
            )
        else:
            restore_live(
                backup=deployment.backup, confirmation=expected_confirmation(deployment.backup)
            )
            what = "the whole database"
    except Exception as restore_error:
        deployment.reason += f"\nrestore failed too: {restore_error}"
        _record(deployment, "restore", "failed", str(restore_error))
        return deployment
    deployment.status = Deployment.Status.ROLLED_BACK
    deployment.finished_at = timezone.now()
    _record(deployment, "restore", "done", f"restored {what} from backup #{deployment.backup.pk}")
    if operation is not None:
        step(operation, "rolled back")
    return deployment


def _secure_restored(schemas: list[str]) -> None:
    """Restored schemas get their row security re-applied and checked, as migrated ones do."""
    from django.db import transaction

    connection = pg.owner_on_public()
    with transaction.atomic(using=OWNER_ALIAS), connection.cursor() as cursor:
        for schema_name in schemas:
            schema_migrations.secure_migrated_schema(cursor, schema_name)
