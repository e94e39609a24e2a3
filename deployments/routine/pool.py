"""The schema pool refilled by the worker when an approval takes a schema.

The hourly refill is the schedule's job ``deployments.scheduling.jobs.refill_schema_pool``.
"""

from __future__ import annotations

from django_tasks import task
from django_tasks_db.models import DBTaskResult

from qiro.tenant_context import owner_context, platform_context
from tenants.schema_pool import fill_schema_pool


@task()
def refill_schema_pool() -> int:
    """Make ``QIRO_SCHEMA_POOL_SIZE`` schemas ready again; the number built."""
    with owner_context():  # migrate_schemas, when a template is built, reads companies
        return len(fill_schema_pool())


def enqueue_refill(**_: object) -> bool:
    """Queue one refill, unless one is already waiting for the worker. True if queued.

    Receiver of ``tenants.schema_pool.schema_taken``.

    A refill that is already running does not count: the schema just taken
    may have been counted as ready before it went, so the next one is queued.
    """
    with platform_context():
        waiting = DBTaskResult.objects.filter(
            task_path=refill_schema_pool.module_path, status="READY"
        ).exists()
        if not waiting:
            refill_schema_pool.enqueue()
    return not waiting
