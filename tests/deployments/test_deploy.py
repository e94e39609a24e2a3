"""Deploys: a good one passes every step; a failing migration is rolled back completely."""

from __future__ import annotations

import subprocess

import pytest

from deployments import deploys
from deployments.models import Deployment
from deployments.services import run_verification
from qiro.db import pg
from tests.conftest import english

from .conftest import ROOT, fingerprints, manage, subprocess_env


def test_a_deploy_with_nothing_to_migrate_takes_no_backup_and_says_so(
    platform, backup_dir, two_companies
):
    deployment = deploys.deploy()
    assert deployment.status == Deployment.Status.SUCCEEDED, deployment.reason
    steps = {s["name"]: s for s in Deployment.objects.get(pk=deployment.pk).steps}
    assert {name: s["status"] for name, s in steps.items()} == {
        "backup": "skipped", "migrate": "skipped", "verify": "done", "health": "done",
        "restore": "skipped",
    }  # fmt: skip
    assert "nothing to migrate" in english(steps["backup"]["detail"])
    assert "nothing to back up" in english(steps["backup"]["detail"])
    assert deployment.backup is None
    assert not backup_dir.exists() or not any(backup_dir.iterdir())
    assert deployment.verification is not None
    assert deployment.verification.failed == 0


def test_a_deploy_through_migrate_schemas_records_each_step_and_succeeds(
    platform, backup_dir, two_companies
):
    deployment = deploys.deploy(executor="standard")
    assert deployment.status == Deployment.Status.SUCCEEDED, deployment.reason
    steps = {s["name"]: s["status"] for s in Deployment.objects.get(pk=deployment.pk).steps}
    assert steps == {
        "backup": "done", "migrate": "done", "verify": "done", "health": "done",
        "restore": "skipped",
    }  # fmt: skip
    assert deployment.backup is not None


@pytest.mark.usefixtures("restores_from_a_dump")
def test_a_failing_migration_with_database_rollback_restores_the_database_before(
    platform, backup_dir, two_companies
):
    before = fingerprints()
    result = subprocess.run(
        manage("deploy", "--rollback", "database"),
        cwd=ROOT,
        env=subprocess_env(
            DJANGO_SETTINGS_MODULE="tests.deployments.settings_failing_migration",
            QIRO_BACKUP_DIR=str(backup_dir),
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0, result.stdout
    deployment = Deployment.objects.latest("pk")
    assert deployment.status == Deployment.Status.ROLLED_BACK, deployment.reason
    assert "injected migration failure" in english(deployment.reason)
    steps = {s["name"]: s["status"] for s in deployment.steps}
    assert steps == {"backup": "done", "migrate": "failed", "restore": "done"}
    assert "injected migration failure" in result.stderr  # the reason, in any language

    assert fingerprints() == before
    with pg.connect() as conn:
        leftovers = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname = 'deploy_probe_marker'"
        ).fetchone()
        applied = conn.execute(
            "SELECT count(*) FROM public.django_migrations WHERE app = 'deploy_probe'"
        ).fetchone()
    assert leftovers == (0,)
    assert applied == (0,)
    after = run_verification(observations=False)
    assert after.failed == 0, list(
        after.results.filter(outcome="fail").values("schema_name", "found")
    )


def test_a_queued_deploy_naming_no_executor_runs_the_fast_one(platform, backup_dir, two_companies):
    from deployments import tasks
    from deployments.models import Operation
    from deployments.services import create_operation

    operation = create_operation(kind=Operation.Kind.DEPLOY, requested_by="test")
    tasks.execute(operation)
    deployment = Deployment.objects.get(operation=operation)
    steps = {s["name"]: s for s in deployment.steps}
    # migrate_schemas would run over every schema; the fast deploy sees nothing behind.
    assert steps["migrate"]["status"] == "skipped", steps["migrate"]
    assert deployment.backup is None
