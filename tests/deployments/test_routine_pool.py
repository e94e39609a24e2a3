"""The warm pool refills itself: a taken schema queues a refill when its transaction commits."""

from __future__ import annotations

import pytest
from django.db import connections, transaction
from django_tasks_db.models import DBTaskResult

from deployments.routine.pool import refill_schema_pool
from qiro import tenant_context
from registration.models import Application, ApplicationStatus
from tenants import schema_pool
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
            assert schema_pool.take_schema(cursor, "routine_never_made")
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        take_then_fail()
    assert queued_refills() == 0
    assert pool_size() == 1  # the rename was rolled back too

    with transaction.atomic(using="owner"), owner.cursor() as cursor:
        assert schema_pool.take_schema(cursor, "routine_taken")
        assert queued_refills() == 0  # not before the commit
    assert queued_refills() == 1
    schema_pool.drop_schema("routine_taken")


def test_a_burst_of_takes_queues_one_refill_while_none_has_started(no_queued_refill):
    schema_pool.fill_schema_pool(size=2)
    owner = connections["owner"]
    for name in ("routine_burst_a", "routine_burst_b"):
        with transaction.atomic(using="owner"), owner.cursor() as cursor:
            assert schema_pool.take_schema(cursor, name)
    assert queued_refills() == 1
    for name in ("routine_burst_a", "routine_burst_b"):
        schema_pool.drop_schema(name)
