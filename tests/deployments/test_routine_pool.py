"""The warm pool refills itself: a taken schema queues a refill when its transaction commits."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections, transaction
from django_tasks_db.models import DBTaskResult

from deployments.routine.pool import refill_schema_pool
from qiro import tenant_context
from qiro.db import pg
from registration.models import Application, ApplicationStatus
from tenants import pool_take, schema_pool
from tests.registration.factories import verified


def queued_refills() -> int:
    return (
        DBTaskResult.objects.using("owner")
        .filter(task_path=refill_schema_pool.module_path, status="READY")
        .count()
    )


def pool_size() -> int:
    with connections["owner"].cursor() as cursor:
        return len(schema_pool.pool_schemas(cursor, current_only=True))


@pytest.fixture
def no_queued_refill(live_db):
    DBTaskResult.objects.using("owner").filter(task_path=refill_schema_pool.module_path).delete()
    yield
    DBTaskResult.objects.using("owner").filter(task_path=refill_schema_pool.module_path).delete()


def test_an_approval_from_the_pool_queues_a_refill_that_the_worker_runs(
    no_queued_refill, staff_client, settings
):
    settings.QIRO_SCHEMA_POOL_SIZE = 1
    schema_pool.fill_schema_pool()
    application = verified()
    done = staff_client.post(
        f"/admin/registration/application/{application.pk}/approve/",
        {"confirm": "yes"},
        HTTP_HOST="localhost",
    )
    assert done.status_code == 302
    stored = Application.objects.using("owner").get(pk=application.pk)
    assert stored.status == ApplicationStatus.PROVISIONED
    assert pool_size() == 0
    assert queued_refills() == 1

    # What the worker does with it: the pool is ready again.
    with tenant_context.platform_context():
        assert refill_schema_pool.call() == 1
    assert pool_size() == 1


def test_a_taken_schema_whose_transaction_rolls_back_queues_nothing(no_queued_refill):
    schema_pool.fill_schema_pool(size=1)
    owner = connections["owner"]

    def take_then_fail() -> None:
        with transaction.atomic(using="owner"), owner.cursor() as cursor:
            assert pool_take.take_schema(cursor, "routine_never_made")
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        take_then_fail()
    assert queued_refills() == 0
    assert pool_size() == 1  # the rename was rolled back too

    with transaction.atomic(using="owner"), owner.cursor() as cursor:
        assert pool_take.take_schema(cursor, "routine_taken")
        assert queued_refills() == 0  # not before the commit
    assert queued_refills() == 1
    schema_pool.drop_schema("routine_taken")


def test_a_burst_of_takes_queues_one_refill_while_none_has_started(no_queued_refill):
    schema_pool.fill_schema_pool(size=2)
    owner = connections["owner"]
    for name in ("routine_burst_a", "routine_burst_b"):
        with transaction.atomic(using="owner"), owner.cursor() as cursor:
            assert pool_take.take_schema(cursor, name)
    assert queued_refills() == 1
    for name in ("routine_burst_a", "routine_burst_b"):
        schema_pool.drop_schema(name)


def test_an_approval_that_finds_the_pool_empty_waits_for_the_schema_a_fill_is_making(
    no_queued_refill,
):
    schema_pool.fill_schema_pool(size=1)
    with connections["owner"].cursor() as cursor:
        (template,) = schema_pool.pool_schemas(cursor, current_only=True)
    schema_pool.drop_schema(template)
    made: list[str] = []

    def fill_later() -> None:
        # A fill that started before the approval looked: it holds the lock from the start.
        time.sleep(0.5)
        made.extend(schema_pool.fill_schema_pool(size=1))
        connections["owner"].close()

    owner = connections["owner"]
    with pg.connect() as running_fill:
        running_fill.execute("SELECT pg_advisory_lock_shared(%s)", [schema_pool.FILL_LOCK])
        filler = threading.Thread(target=fill_later)
        filler.start()
        try:
            with transaction.atomic(using="owner"), owner.cursor() as cursor:
                assert pool_take.take_schema(cursor, "routine_waited", wait=120)
        finally:
            filler.join()
    assert made, "the fill made the schema the approval waited for"
    with owner.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [made[0]])
        assert cursor.fetchone() is None, "renamed to the approval's name"
    schema_pool.drop_schema("routine_waited")


def test_with_no_fill_running_an_empty_pool_is_said_at_once(no_queued_refill):
    with connections["owner"].cursor() as cursor:
        for name in schema_pool.pool_schemas(cursor, current_only=False):
            schema_pool.drop_schema(name)
    started = time.monotonic()
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        assert not pool_take.take_schema(cursor, "routine_never_made", wait=60)
    assert time.monotonic() - started < 5, "no fill holds the lock: nothing to wait for"


def test_a_fill_replaces_the_schemas_taken_while_it_runs(no_queued_refill, monkeypatch):
    with connections["owner"].cursor() as cursor:
        for name in schema_pool.pool_schemas(cursor, current_only=False):
            schema_pool.drop_schema(name)
    taken: list[str] = []

    def an_approval_takes_one() -> None:
        if not taken:  # an approval, on its own connection, while the fill runs
            with pg.connect() as approval, approval.transaction(), approval.cursor() as cursor:
                assert pool_take.take_schema(cursor, "routine_taken_meanwhile", wait=0)
            taken.append("routine_taken_meanwhile")

    # Once a schema is ready, however the fill makes it: copied from the template, or
    # by migrations (every one on Citus, where the fill never copies).
    clone = schema_pool.clone_schema
    build = schema_pool._Fill.build_with_migrations

    def clone_then_take(conn, template, name):
        clone(conn, template, name)
        an_approval_takes_one()

    def build_then_take(self, name, *, as_template):
        build(self, name, as_template=as_template)
        an_approval_takes_one()

    monkeypatch.setattr(schema_pool, "clone_schema", clone_then_take)
    monkeypatch.setattr(schema_pool._Fill, "build_with_migrations", build_then_take)
    built = schema_pool.fill_schema_pool(size=3)
    assert taken, "an approval took a schema while the fill ran"
    assert len(built) == 4, "three were missing; one more for the one taken meanwhile"
    assert pool_size() == 3
    schema_pool.drop_schema("routine_taken_meanwhile")
