"""Apply the code's migrations to many company schemas at the cost of their SQL.

``migrate_schemas`` pays Django's machinery once per schema: the migration
graph, the recorder's table-existence checks (each reads all of pg_class),
the project state rendered for the post-migrate signal, the grants. This
module pays it once per run:

* **Plan once.** One migration graph and one walk of the project state for
  the whole run. Each migration a schema lacks becomes a ``Step``.
* **Render once, where the SQL is what would run.** A migration whose
  operations all produce SQL that depends on nothing but the migration
  (``SQL_OPERATIONS``, ``RunSQL``) is rendered once, exactly as
  ``sqlmigrate`` renders it, and the statements are replayed in each schema.
  Anything else — ``RunPython`` (code that may read the schema's rows) and the
  operations whose SQL Django derives from the live catalog (``AlterField``,
  ``RemoveField`` … look up constraint names) — runs through Django's schema
  editor in each schema, with the states computed once.
* **One transaction per schema**: its statements, its ``django_migrations``
  rows and ``secure_migrated_schema`` (row security re-applied, grants,
  checked). A schema is wholly migrated and secured, or untouched.
* **Several owner connections** (``QIRO_DEPLOY_CONNECTIONS``, default: CPU
  count). The first schema (the canary) runs alone; the rest follow in
  parallel. The first failure stops the run; schemas already done stay done
  and recorded, so running again continues with the rest.

A schema without ``django_migrations`` and a plan holding a non-atomic
migration go the ordinary way (``migrate_schemas`` for that schema), then are
secured the same way.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connections, migrations, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration as DjangoMigration
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from psycopg import sql

from qiro.db import pg
from qiro.db.secure import company_of_schema, secure_schema, verify_schema
from qiro.migration_state import MIGRATIONS_TABLE, Migration
from qiro.rls import EnableRowSecurity
from qiro.tenant_context import OWNER_ALIAS, owner_context

# Operations whose SQL Django writes from the migration alone, never from the
# catalog of the schema it runs in: rendered once, replayed per schema.
SQL_OPERATIONS: tuple[type[Operation], ...] = (
    migrations.CreateModel,
    migrations.DeleteModel,
    migrations.AddField,
    migrations.AddIndex,
    migrations.RemoveIndex,
    migrations.AddConstraint,
    migrations.RemoveConstraint,
    migrations.AlterModelOptions,
    migrations.AlterModelManagers,
    migrations.RunSQL,
    EnableRowSecurity,
)


def default_connections() -> int:
    """Owner connections a run uses at once (``QIRO_DEPLOY_CONNECTIONS``, else CPU count)."""
    configured = getattr(settings, "QIRO_DEPLOY_CONNECTIONS", None)
    return max(1, int(configured or os.cpu_count() or 1))


def why_not_rendered(migration: DjangoMigration) -> str | None:
    """None if the migration's SQL can be rendered once; otherwise the reason, for the record."""
    if not migration.atomic:
        return "non-atomic migration"
    for operation in migration.operations:
        if not isinstance(operation, SQL_OPERATIONS):
            return f"{type(operation).__name__} runs per schema"
        if isinstance(operation, migrations.RunSQL) and not operation.reduces_to_sql:
            return "RunSQL without SQL runs per schema"
    return None


@dataclass(frozen=True)
class Step:
    """One migration, ready to apply to any company schema.

    ``statements``: its SQL, rendered once (None when it cannot be).
    ``operations``: otherwise, each operation with the states before and after it.
    """

    key: Migration
    migration: DjangoMigration
    statements: tuple[str, ...] | None
    operations: tuple[tuple[Operation, ProjectState, ProjectState], ...] = ()
    fallback: str = ""

    @property
    def records(self) -> list[Migration]:
        """The ``django_migrations`` rows applying it writes (a squash records what it replaces)."""
        return [*self.migration.replaces, self.key]


@dataclass
class Plan:
    """The steps of a run, in the order ``migrate`` applies them."""

    steps: list[Step] = field(default_factory=list)

    def for_schema(self, missing: Iterable[Migration]) -> list[Step]:
        wanted = set(missing)
        return [step for step in self.steps if step.key in wanted]

    @property
    def fallbacks(self) -> dict[str, str]:
        """``app.name`` → why it runs through Django's operations in each schema."""
        return {f"{s.key[0]}.{s.key[1]}": s.fallback for s in self.steps if s.statements is None}


def graph_order(loader: MigrationLoader) -> list[Migration]:
    """Every migration of the graph, in the order ``migrate`` plans them from scratch."""
    order: list[Migration] = []
    seen: set[Migration] = set()
    for leaf in sorted(loader.graph.leaf_nodes()):
        for node in loader.graph.forwards_plan(leaf):
            if node not in seen:
                seen.add(node)
                order.append(node)
    return order


def _sql_statements(collected: Sequence[str]) -> tuple[str, ...]:
    """``sqlmigrate``'s output without its comment lines."""
    return tuple(
        s
        for s in collected
        if any(line.strip() and not line.startswith("--") for line in s.split("\n"))
    )


def build_plan(wanted: Iterable[Migration], *, render_schema: str) -> Plan:
    """Steps for every migration in ``wanted``; SQL rendered in ``render_schema``'s routing.

    The project state walks the whole graph once. ``render_schema`` must be a
    company schema: the router decides from it which operations apply there.
    Nothing is executed (``collect_sql``).
    """
    wanted = set(wanted)
    loader = MigrationLoader(None, ignore_no_migrations=True)
    state = ProjectState(real_apps=loader.unmigrated_apps)
    connection = connections[OWNER_ALIAS]
    connection.set_schema(render_schema)  # type: ignore[attr-defined]
    plan = Plan()
    try:
        for key in graph_order(loader):
            migration = loader.graph.nodes[key]
            if key not in wanted:
                state = migration.mutate_state(state, preserve=False)
                continue
            reason = why_not_rendered(migration)
            if reason is None:
                with connection.schema_editor(collect_sql=True, atomic=True) as editor:
                    state = migration.apply(state, editor, collect_sql=True)
                plan.steps.append(Step(key, migration, _sql_statements(editor.collected_sql)))
                continue
            operations = []
            for operation in migration.operations:
                before = state.clone()
                operation.state_forwards(migration.app_label, state)
                after = state.clone()
                # Rendered here, once: the worker threads only read them.
                before.apps  # noqa: B018
                after.apps  # noqa: B018
                operations.append((operation, before, after))
            plan.steps.append(Step(key, migration, None, tuple(operations), reason))
    finally:
        pg.owner_on_public()
    return plan


def secure_migrated_schema(cursor: Any, schema_name: str) -> None:
    """``qiro.db.secure.secure_schema``, then checked: after every migration of a schema.

    The one place a deploy secures a company schema, in the transaction that
    migrated it: row security re-applied, the runtime role's grants, and the
    company-only constraint on every company-keyed table (a table the
    migration added gets it here). Refuses (raises) a schema left without its
    row security or accepting another company's rows.
    """
    company_id = company_of_schema(cursor, schema_name)
    secure_schema(cursor, schema_name=schema_name, company_id=company_id)
    verify_schema(cursor, schema_name, company_id=company_id)


def _record(cursor: Any, schema_name: str, steps: Sequence[Step]) -> None:
    rows = [record for step in steps for record in step.records]
    cursor.execute(
        sql.SQL(
            "INSERT INTO {} (app, name, applied) "
            "SELECT app, name, now() FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY "
            "AS r(app, name, n) ORDER BY n"
        ).format(sql.Identifier(schema_name, MIGRATIONS_TABLE)),
        [[app for app, _ in rows], [name for _, name in rows]],
    )


def migrate_schema(
    schema_name: str, steps: Sequence[Step], *, after: Callable[[Any, str], None] | None = None
) -> None:
    """Apply ``steps`` to one schema in one transaction, record them and secure the schema.

    ``after(cursor, schema)`` runs last in the same transaction (e.g. a pool
    schema's ready mark).
    """
    connection = connections[OWNER_ALIAS]
    connection.set_schema(schema_name)  # type: ignore[attr-defined]
    try:
        with transaction.atomic(using=OWNER_ALIAS), connection.cursor() as cursor:
            for step in steps:
                if step.statements is not None:
                    for statement in step.statements:
                        cursor.execute(statement)
                    continue
                with connection.schema_editor(atomic=False) as editor:
                    for operation, before, after_state in step.operations:
                        operation.database_forwards(
                            step.migration.app_label, editor, before, after_state
                        )
            _record(cursor, schema_name, steps)
            secure_migrated_schema(cursor, schema_name)
            if after is not None:
                after(cursor, schema_name)
    finally:
        pg.owner_on_public()


def migrate_schema_ordinarily(
    schema_name: str, *, after: Callable[[Any, str], None] | None = None
) -> None:
    """``migrate_schemas`` for one schema (commits per migration), then secured."""
    with owner_context():
        call_command(
            "migrate_schemas", schema_name=schema_name, tenant=True, interactive=False, verbosity=0
        )
    connection = pg.owner_on_public()
    with transaction.atomic(using=OWNER_ALIAS), connection.cursor() as cursor:
        secure_migrated_schema(cursor, schema_name)
        if after is not None:
            after(cursor, schema_name)


@dataclass(frozen=True)
class Progress:
    """Where a run is: schema ``done`` of ``total`` just finished (or failed)."""

    done: int
    total: int
    schema: str
    seconds: float  # this schema's
    elapsed: float  # the run's so far
    error: str = ""

    @property
    def remaining_seconds(self) -> float:
        """Estimate from the pace so far."""
        return self.elapsed / self.done * (self.total - self.done) if self.done else 0.0


class SchemaFailed(RuntimeError):
    def __init__(self, schema_name: str, error: BaseException, done: list[str]) -> None:
        super().__init__(f"{schema_name}: {error}")
        self.schema_name = schema_name
        self.error = error
        self.done = done


def run(
    work: Sequence[tuple[str, Callable[[], None]]],
    *,
    workers: int | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> list[str]:
    """Run each schema's work: the first alone (the canary), the rest ``workers`` at a time.

    Returns the schemas done, in the order they finished. The first failure
    stops the run (work already started finishes) and raises ``SchemaFailed``
    with the schemas done. ``progress`` is called in this thread.
    """
    workers = default_connections() if workers is None else max(1, workers)
    started = time.monotonic()
    done: list[str] = []
    total = len(work)
    events: queue.Queue[tuple[str, float, BaseException | None]] = queue.Queue()
    stop = threading.Event()

    def one(schema_name: str, apply: Callable[[], None]) -> None:
        began = time.monotonic()
        try:
            apply()
        except Exception as error:
            stop.set()
            events.put((schema_name, time.monotonic() - began, error))
        else:
            events.put((schema_name, time.monotonic() - began, None))

    failures: list[tuple[str, BaseException]] = []

    def handle(event: tuple[str, float, BaseException | None]) -> None:
        schema_name, seconds, error = event
        if error is None:
            done.append(schema_name)
        else:
            failures.append((schema_name, error))
        if progress is not None:
            progress(
                Progress(len(done), total, schema_name, seconds, time.monotonic() - started,
                         "" if error is None else str(error))
            )  # fmt: skip

    if not work:
        return done
    one(*work[0])  # the canary, alone and first
    handle(events.get())
    rest = list(reversed(work[1:]))
    lock = threading.Lock()

    def worker() -> None:
        try:
            while not stop.is_set():
                with lock:
                    if not rest:
                        return
                    item = rest.pop()
                one(*item)
        finally:
            connections[OWNER_ALIAS].close()

    threads = (
        []
        if failures
        else [threading.Thread(target=worker, daemon=True) for _ in range(min(workers, len(rest)))]
    )
    for thread in threads:
        thread.start()
    try:
        while any(t.is_alive() for t in threads) or not events.empty():
            try:
                handle(events.get(timeout=0.2))
            except queue.Empty:
                continue
    finally:
        for thread in threads:
            thread.join()
    if failures:
        raise SchemaFailed(failures[0][0], failures[0][1], done)
    return done
