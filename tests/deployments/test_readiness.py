"""/health/ready/: a status for strangers, details for staff and token holders, never the owner."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest
from django.db import DatabaseError, connections
from django.test import Client
from django.utils import timezone

from deployments.health import forget_recent_readiness
from deployments.models import Operation, WorkerHeartbeat
from deployments.scheduling.models import Incident
from deployments.services import run_verification
from deployments.worker import Heartbeat
from qiro import tenant_context
from qiro.db import pg
from qiro.db.roles import role_name

from .conftest import owner_execute

TOKEN = "s3cret-health-token-for-the-probe"


@pytest.fixture
def ready(platform, two_companies, settings):
    """Everything ready: a passing verification and a worker seen just now."""
    settings.QIRO_HEALTH_TOKEN = TOKEN
    run_verification(observations=False)
    Operation.objects.filter(status__in=["queued", "running"]).delete()
    Incident.objects.all().delete()  # a failure another test left is no open incident here
    Heartbeat("dp-readiness").beat()
    tenant_context.clear()  # requests set their own context
    forget_recent_readiness()


def get(client: Client, **headers: str):
    response = client.get("/health/ready/", HTTP_HOST="localhost", headers=headers)
    return response, json.loads(response.content)


def detailed(client: Client | None = None):
    return get(client or Client(), Authorization=f"Bearer {TOKEN}")


def test_anonymous_callers_get_only_the_status(ready):
    response, body = get(Client())
    assert response.status_code == 200
    assert body == {"status": "ok"}
    with tenant_context.platform_context():
        WorkerHeartbeat.objects.all().delete()
    tenant_context.clear()
    assert get(Client())[1] == {"status": "ok"}, "strangers share one answer for a few seconds"
    assert detailed()[0].status_code == 503, "staff and token holders get a fresh one"
    forget_recent_readiness()
    response, body = get(Client())
    assert response.status_code == 503
    assert body == {"status": "unavailable"}, "no check name, schema or error text for strangers"
    assert response["Cache-Control"].startswith("max-age=0")


def test_platform_staff_see_every_check(ready, staff_client):
    response, body = get(staff_client)
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "migrations", "worker", "verification", "operations"}
    assert body["checks"]["database"]["detail"] == f"connected as {role_name('app')}"


def test_only_the_configured_bearer_token_shows_details(ready, settings):
    response, body = detailed()
    assert response.status_code == 200
    assert body["checks"]["migrations"]["ok"] is True
    for wrong in (TOKEN[:-1] + "X", TOKEN + "X", "", TOKEN.upper()):
        assert get(Client(), Authorization=f"Bearer {wrong}")[1] == {"status": "ok"}, wrong
    assert get(Client(), Authorization=TOKEN)[1] == {"status": "ok"}, "the scheme is required"
    settings.QIRO_HEALTH_TOKEN = ""
    assert get(Client(), Authorization="Bearer ")[1] == {"status": "ok"}, "no token, no details"


def test_readiness_needs_a_recent_worker_and_a_passing_verification(ready):
    with tenant_context.platform_context():
        WorkerHeartbeat.objects.update(last_seen=timezone.now() - timedelta(minutes=10))
    tenant_context.clear()
    response, body = detailed()
    assert response.status_code == 503
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert Client().get("/health/", HTTP_HOST="localhost").status_code == 200


def test_readiness_opens_no_owner_connection(ready, settings):
    """Attack: make the owner's login unusable; readiness must not notice, as it never uses it."""
    owner = connections["owner"]
    saved = owner.settings_dict["USER"]
    owner.close()
    owner.settings_dict["USER"] = "qiro_no_such_owner_login"
    try:
        with pytest.raises(psycopg.OperationalError):
            pg.connect().close()  # the owner's door is indeed shut
        response, body = detailed()
    finally:
        owner.settings_dict["USER"] = saved
    assert response.status_code == 200, body
    assert body["checks"]["migrations"]["ok"] is True
    assert body["checks"]["migrations"]["detail"].endswith(" 0 with unapplied migrations")


def test_an_unapplied_migration_in_one_company_schema_is_reported(ready):
    owner_execute(
        "DELETE FROM acme.django_migrations WHERE app = 'sysauth' AND name = '0001_initial'"
    )
    try:
        response, body = detailed()
        forget_recent_readiness()
        anonymous = get(Client())[1]
    finally:
        owner_execute(
            "INSERT INTO acme.django_migrations (app, name, applied) "
            "VALUES ('sysauth', '0001_initial', now())"
        )
    assert response.status_code == 503
    assert body["checks"]["migrations"]["ok"] is False
    assert body["checks"]["migrations"]["detail"].endswith(" 1 with unapplied migrations")
    assert anonymous == {"status": "unavailable"}
    assert detailed()[0].status_code == 200


def test_a_stuck_operation_makes_readiness_fail(ready):
    with tenant_context.platform_context():
        ghost = Operation.objects.create(
            kind=Operation.Kind.BACKUP,
            status=Operation.Status.RUNNING,
            lease_holder="worker-gone",
            lease_expires_at=timezone.now() - timedelta(seconds=1),
        )
    tenant_context.clear()
    try:
        response, body = detailed()
        assert response.status_code == 503
        assert body["checks"]["operations"]["detail"] == {"expired_lease": [ghost.pk]}
        with tenant_context.platform_context():
            Operation.objects.filter(pk=ghost.pk).update(status=Operation.Status.QUEUED)
            WorkerHeartbeat.objects.all().delete()
        tenant_context.clear()
        response, body = detailed()
        assert body["checks"]["operations"]["detail"] == {"queued_without_worker": [ghost.pk]}
    finally:
        with tenant_context.platform_context():
            Operation.objects.filter(pk=ghost.pk).delete()


def test_the_migration_counts_function_answers_the_platform_role_only_with_counts(ready):
    """Attack, as each runtime role: read migration records directly, or call the function."""
    from deployments.health import _expected

    apps, names = _expected()
    with connections["platform"].cursor() as cursor:
        cursor.execute("SELECT * FROM qiro_migration_counts(%s, %s)", [apps, names])
        assert [c.name for c in cursor.description] == ["schemas", "outdated"]
    denied = pytest.raises(DatabaseError, match="permission denied")
    with tenant_context.platform_context(), denied, connections["platform"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM public.django_migrations")
    tenant_context.clear()
    denied = pytest.raises(DatabaseError, match="permission denied")
    with tenant_context.anonymous_context(), denied, connections["default"].cursor() as cursor:
        cursor.execute("SELECT * FROM qiro_migration_counts(%s, %s)", [apps, names])
