"""An approval killed with SIGKILL at any step is completed by the next approval, or repaired.

Each test approves in a subprocess that kills itself at one step boundary
(``approve_and_die.py``), then approves again in this process, signs in as
the company's first administrator over HTTP and runs the verification.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.utils import translation

from deployments.services import runtime_roles
from deployments.verification import Verifier
from deployments.verification.base import FAIL
from qiro.db import pg
from registration import actions
from registration.models import Application, ApplicationStatus
from sysauth.models import User
from tenants import repair, schema_pool
from tenants.models import Company
from tenants.validators import host_for, schema_name_for
from tests.conftest import english
from tests.deployments.conftest import subprocess_env
from tests.registration.factories import PASSWORD, verified
from tests.tenants.test_provisioning import schema_exists

SCRIPT = Path(__file__).with_name("approve_and_die.py")
WARM_STEPS = ["schema", "company", "row_security", "administrator", "activate"]
SLOW_STEPS = ["migrations", "schema", "company", "row_security", "administrator"]


@pytest.fixture
def reviewer(live_db):
    staff, _ = User.objects.db_manager("owner").get_or_create(
        email="crash-reviewer@qiro.example.kr",
        defaults={"is_staff": True, "full_name": "검토자"},
    )
    return staff


def empty_the_pool() -> None:
    with connections["owner"].cursor() as cursor:
        names = schema_pool.pool_schemas(cursor, current_only=False)
    for name in names:
        schema_pool.drop_schema(name)


def approve_and_die(application: Application, reviewer: User, step: str) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(application.pk), str(reviewer.pk), step],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == -9, (result.returncode, result.stderr[-2000:])
    connections["owner"].close()  # its server-side view of the catalogs is fresh again


def failed_checks() -> list[tuple[str, str, str]]:
    with pg.connect() as conn:
        results = Verifier(conn, runtime_roles=runtime_roles()).run(observations=False)
    return [(r.check, r.schema, english(r.found)) for r in results if r.outcome == FAIL]


def assert_usable(application: Application) -> Company:
    stored = Application.objects.using("owner").get(pk=application.pk)
    assert stored.status == ApplicationStatus.PROVISIONED
    company = Company.objects.using("owner").get(pk=stored.company_id)
    assert company.status == Company.Status.ACTIVE
    response = Client().post(
        "/accounts/login/",
        {"username": application.admin_email, "password": PASSWORD},
        HTTP_HOST=host_for(application.subdomain),
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert failed_checks() == []
    return company


def remove(application: Application) -> None:
    schema = schema_name_for(application.subdomain)
    Company.objects.using("owner").filter(schema_name=schema).delete()
    schema_pool.drop_schema(schema)


@pytest.mark.parametrize(
    ("path", "step"), [("warm", s) for s in WARM_STEPS] + [("slow", s) for s in SLOW_STEPS]
)
def test_an_approval_killed_at_any_step_is_completed_by_the_next_approval(
    live_db, reviewer, path, step
):
    if path == "warm":
        schema_pool.fill_schema_pool(size=1)
    else:
        empty_the_pool()
    application = verified()
    try:
        approve_and_die(application, reviewer, step)
        if step == "activate":
            # Killed after the activation committed: the company is already whole.
            with pytest.raises(actions.ReviewError):
                actions.approve_application(application_id=application.pk, acting_user=reviewer)
        else:
            stored = Application.objects.using("owner").get(pk=application.pk)
            assert stored.status == ApplicationStatus.APPROVED
            company = actions.approve_application(
                application_id=application.pk, acting_user=reviewer
            )
            assert company.schema_name == schema_name_for(application.subdomain)
        assert_usable(application)
    finally:
        remove(application)


@pytest.mark.parametrize("step", ["schema", "administrator"])
def test_repair_leaves_no_trace_of_a_killed_approval_and_says_so(live_db, reviewer, step):
    schema_pool.fill_schema_pool(size=1)
    application = verified()
    schema = schema_name_for(application.subdomain)
    try:
        approve_and_die(application, reviewer, step)
        with connections["owner"].cursor() as cursor:
            assert repair.leftover_schemas(cursor) == [schema]
        found = repair.repair_provisioning()
        assert [(f.schema_name, f.outcome) for f in found] == [(schema, repair.REMOVED)]
        with translation.override("en"):
            assert f"application {application.pk}" in found[0].message
            assert "no trace is left" in found[0].message
        assert not schema_exists(schema)
        assert not Company.objects.using("owner").filter(schema_name=schema).exists()
        assert failed_checks() == []
        assert repair.repair_provisioning() == []
        actions.approve_application(application_id=application.pk, acting_user=reviewer)
        assert_usable(application)
    finally:
        remove(application)


def test_repair_leaves_a_provisioning_in_progress_alone(live_db):
    """A schema whose provisioning lock is held (a live approval) is not touched."""
    with connections["owner"].cursor() as cursor:
        cursor.execute("CREATE SCHEMA inflight")
        cursor.execute(f"COMMENT ON SCHEMA inflight IS '{repair.mark_for('application x')}'")
    try:
        with repair.provisioning_lock("inflight"):
            found = repair.repair_provisioning()
            assert [(f.schema_name, f.outcome) for f in found] == [("inflight", repair.IN_PROGRESS)]
            with translation.override("en"):
                assert "still running" in found[0].message
            with translation.override("ko"):
                assert "진행 중" in found[0].message
            assert schema_exists("inflight")
        assert [f.outcome for f in repair.repair_provisioning()] == [repair.REMOVED]
        assert not schema_exists("inflight")
    finally:
        schema_pool.drop_schema("inflight")


def test_a_schema_without_the_mark_is_never_dropped_and_the_approval_says_why(live_db, reviewer):
    application = verified()
    schema = schema_name_for(application.subdomain)
    with connections["owner"].cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
    try:
        assert repair.repair_provisioning() == []
        with (
            translation.override("en"),
            pytest.raises(actions.ReviewError, match="not made by a provisioning"),
        ):
            actions.approve_application(application_id=application.pk, acting_user=reviewer)
        assert schema_exists(schema)
        stored = Application.objects.using("owner").get(pk=application.pk)
        assert stored.status == ApplicationStatus.APPROVED
    finally:
        schema_pool.drop_schema(schema)


def test_bootstrap_repairs_what_a_crash_left(live_db, reviewer, capsys):
    schema_pool.fill_schema_pool(size=1)
    application = verified()
    schema = schema_name_for(application.subdomain)
    try:
        approve_and_die(application, reviewer, "administrator")
        with translation.override("en"):
            call_command("bootstrap", no_superuser=True, verbosity=1)
        assert f"{schema}: an interrupted provisioning" in capsys.readouterr().out
        assert not schema_exists(schema)
    finally:
        remove(application)
