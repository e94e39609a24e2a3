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
import traceback
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from django.core.management import call_command
from django.utils import timezone
from django.utils.translation import gettext_noop
from psycopg import sql

from deployments import deploy_record, health
from deployments.backups import create_backup, expected_confirmation, restore_live
from deployments.deploy_record import STEP_LABELS, STEPS, progress_writer, record
from deployments.deploy_state import DeployState, deploy_state
from deployments.models import Deployment, Operation
from deployments.restore_scope import restore_schemas
from deployments.services import log, run_verification, step
from qiro import stored_text
from qiro.db import pg, schema_migrations
from qiro.db.roles import apply_public_grants
from qiro.stored_text import said
from qiro.tenant_context import OWNER_ALIAS, owner_context
from tenants.schema_pool import (
    COMMENT_PREFIX,
    POOL_SCHEMA_PREFIX,
    drop_schema,
    migrations_fingerprint,
)

EXECUTORS = ("fast", "standard", "multiprocessing")
ROLLBACKS = ("none", "changed", "database")
DEFAULT_EXECUTOR = "fast"


@contextlib.contextmanager
def progress_listener(listener: Callable[[schema_migrations.Progress], None]) -> Iterator[None]:
    """Call ``listener`` with every schema's progress of the deploys run in the body."""
    token = deploy_record.listener.set(listener)
    try:
        yield
    finally:
        deploy_record.listener.reset(token)


class DeployFailed(RuntimeError):
    """A deploy step failed; ``message`` says why, in the reader's language when read."""

    def __init__(self, msgid: str, **params: Any) -> None:
        self.message = said(msgid, **params)
        super().__init__(stored_text.render(self.message))


def current_state() -> DeployState:
    connection = pg.owner_on_public()
    with connection.cursor() as cursor:
        return deploy_state(cursor)


def migrate_all(*, executor: str = "standard", **_: Any) -> str:
    """``migrate_schemas`` over public and every company schema, as the owner."""
    with owner_context():
        call_command("migrate_schemas", interactive=False, verbosity=0, executor=executor)
    _public_grants()
    return stored_text.stored(
        said(gettext_noop("migrate_schemas, %(executor)s executor"), executor=executor)
    )


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
        notes.append(said(gettext_noop("public migrated")))
    outdated = state.outdated_schemas
    if not outdated:
        return stored_text.stored(notes or [said(gettext_noop("nothing to migrate"))])
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
    notes.append(
        said(gettext_noop("%(count)d schemas migrated (canary %(canary)s)"), count=len(done),
             canary=canary)
    )  # fmt: skip
    if plan.fallbacks:
        notes.append(
            said(
                gettext_noop("run through Django's operations in each schema: %(migrations)s"),
                migrations=[f"{name} ({why})" for name, why in plan.fallbacks.items()],
            )
        )
    return stored_text.stored(notes)


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

    def progress(msgid: str) -> None:
        if operation is not None:
            step(operation, msgid)

    changed: list[str] = []  # the schemas this deploy migrated
    current = "backup"
    try:
        state = current_state()
        if executor == "fast" and not state.behind:
            record(
                deployment, "backup", "skipped",
                said(gettext_noop("nothing to migrate in %(count)d schemas, so nothing to back up"),
                     count=state.schema_count),
            )  # fmt: skip
            record(
                deployment, "migrate", "skipped",
                said(gettext_noop("%(count)d schemas up to date"), count=state.schema_count),
            )  # fmt: skip
            progress(gettext_noop("nothing to migrate: no backup needed"))
        else:
            record(deployment, "backup", "running")
            backup = create_backup()
            deployment.backup = backup
            record(
                deployment, "backup", "done",
                said(gettext_noop("%(file)s (%(size)s)"), file=backup.file_path,
                     size=stored_text.size(backup.size_bytes)),
            )  # fmt: skip
            progress(gettext_noop("backup done"))

            current = "migrate"
            record(
                deployment, "migrate", "running",
                said(
                    gettext_noop("%(behind)d of %(total)d schemas behind, and public")
                    if state.public.outdated
                    else gettext_noop("%(behind)d of %(total)d schemas behind"),
                    behind=len(state.outdated_schemas), total=state.schema_count - 1,
                ),
            )  # fmt: skip
            writer = progress_writer(operation, deployment, base=2)

            def on_schema(p: schema_migrations.Progress) -> None:
                if not p.error:
                    changed.append(p.schema)
                writer(p)

            detail = migrate(executor=executor, state=state, workers=workers, progress=on_schema)
            record(
                deployment, "migrate", "done",
                str(detail) if detail
                else said(gettext_noop("%(executor)s executor"), executor=executor),
            )  # fmt: skip
            progress(gettext_noop("migrations applied"))

        current = "verify"
        record(deployment, "verify", "running")
        run = run_verification(observations=False)
        deployment.verification = run
        if run.failed:
            raise DeployFailed(
                gettext_noop("verification found %(failed)d failures (run #%(run)d)"),
                failed=run.failed, run=run.pk,
            )  # fmt: skip
        record(
            deployment, "verify", "done",
            said(gettext_noop("%(count)d checks passed"), count=run.passed),
        )  # fmt: skip
        progress(gettext_noop("verification passed"))

        current = "health"
        record(deployment, "health", "running")
        report = health.readiness(require_worker=False)
        if not report["ready"]:
            raise DeployFailed(
                gettext_noop("health check failed: %(checks)s"), checks=str(report["checks"])
            )
        record(deployment, "health", "done", said(gettext_noop("ready")))
        progress(gettext_noop("health check passed"))
    except Exception as error:
        if rollback == "changed" and executor != "fast":
            rollback = "database"  # migrate_schemas does not say which schemas it changed
        return _failed(deployment, operation, current, error, rollback=rollback, changed=changed)
    deployment.status = Deployment.Status.SUCCEEDED
    deployment.finished_at = timezone.now()
    record(deployment, "restore", "skipped", said(gettext_noop("not needed")))
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
    step_label = said(STEP_LABELS[current])
    why = error.message if isinstance(error, DeployFailed) else str(error)
    reasons = [said(gettext_noop("%(step)s: %(error)s"), step=step_label, error=why)]
    if isinstance(error, schema_migrations.SchemaFailed) and rollback == "none":
        reasons.append(
            said(
                gettext_noop(
                    "%(count)d schemas were migrated before it and stay migrated; "
                    "deploy again to continue with the others."
                ),
                count=len(error.done),
            )
        )
    deployment.reason = stored_text.stored(reasons)
    record(deployment, current, "failed", traceback.format_exc(limit=6))
    if operation is not None:
        log(operation, gettext_noop("%(step)s failed: %(error)s"), step=step_label, error=why)
    deployment.finished_at = timezone.now()
    deployment.status = Deployment.Status.FAILED
    if rollback == "none" or deployment.backup is None:
        skipped = (
            gettext_noop("no backup was made")
            if deployment.backup is None
            else gettext_noop("not asked (--rollback none)")
        )
        record(deployment, "restore", "skipped", said(skipped))
        return deployment
    record(deployment, "restore", "running")
    try:
        if rollback == "changed":
            pool = [s for s in changed if s.startswith(POOL_SCHEMA_PREFIX)]
            companies = [s for s in changed if s not in pool]
            for schema_name in pool:  # they hold no rows: the next fill makes new ones
                drop_schema(schema_name)
            seconds = restore_schemas(backup=deployment.backup, schemas=companies)
            _secure_restored(companies)
            what = said(
                gettext_noop(
                    "%(count)d company schemas the deploy changed, in %(seconds)s s "
                    "(%(pool)d pool schemas dropped)"
                ),
                count=len(companies), seconds=f"{seconds:.1f}", pool=len(pool),
            )  # fmt: skip
        else:
            restore_live(
                backup=deployment.backup, confirmation=expected_confirmation(deployment.backup)
            )
            what = said(gettext_noop("the whole database"))
    except Exception as restore_error:
        reasons.append(
            said(gettext_noop("restore failed too: %(error)s"), error=str(restore_error))
        )
        deployment.reason = stored_text.stored(reasons)
        record(deployment, "restore", "failed", str(restore_error))
        return deployment
    deployment.status = Deployment.Status.ROLLED_BACK
    deployment.finished_at = timezone.now()
    record(
        deployment, "restore", "done",
        said(gettext_noop("restored %(what)s from backup #%(backup)d"), what=what,
             backup=deployment.backup.pk),
    )  # fmt: skip
    if operation is not None:
        step(operation, gettext_noop("rolled back"))
    return deployment


def _secure_restored(schemas: list[str]) -> None:
    """Restored schemas get their row security re-applied and checked, as migrated ones do."""
    from django.db import transaction

    connection = pg.owner_on_public()
    with transaction.atomic(using=OWNER_ALIAS), connection.cursor() as cursor:
        for schema_name in schemas:
            schema_migrations.secure_migrated_schema(cursor, schema_name)
