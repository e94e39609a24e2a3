"""Two real worker processes polling the same due schedules: each due job runs once."""

from __future__ import annotations

import subprocess
import time
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from deployments.scheduling.models import RunStatus, Schedule, ScheduleRun

from .conftest import ROOT, manage, subprocess_env

SCHEDULES = 120
PREFIX = "two workers: "


def start_worker(name: str) -> subprocess.Popen[str]:
    env = subprocess_env(DJANGO_SETTINGS_MODULE="tests.deployments.settings_schedule_probe")
    return subprocess.Popen(
        manage("worker", "--interval", "0.02", "--worker-id", name),
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_two_worker_processes_never_run_the_same_due_job_twice(platform):
    workers = [start_worker("dp-sched-a"), start_worker("dp-sched-b")]
    try:
        time.sleep(4)  # both are up and polling before anything is due
        due = timezone.now() + timedelta(seconds=2)
        Schedule.objects.bulk_create(
            Schedule(
                name=f"{PREFIX}{n:03d}",
                job="tests.deployments.schedule_probe.note",
                interval_seconds=3600,
                next_run_at=due,
            )
            for n in range(SCHEDULES)
        )
        ours = ScheduleRun.objects.filter(schedule__name__startswith=PREFIX)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            finished = ours.exclude(status=RunStatus.RUNNING).values("schedule").distinct()
            if finished.count() == SCHEDULES:
                break
            time.sleep(0.3)
        time.sleep(1)  # a second run, if there were one, would be recorded by now
        for worker in workers:
            assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
    finally:
        for worker in workers:
            worker.terminate()
        output = [worker.communicate(timeout=30)[0] for worker in workers]
    runs_per_schedule = ours.values("schedule").annotate(runs=Count("pk"))
    assert runs_per_schedule.count() == SCHEDULES, output
    assert {row["runs"] for row in runs_per_schedule} == {1}, "a due job ran twice"
    assert set(ours.values_list("status", flat=True)) == {RunStatus.SUCCEEDED}
    pids = {run.result.split()[2] for run in ours}
    assert len(pids) == 2, "both workers took part (the test would not show a race otherwise)"
    Schedule.objects.filter(name__startswith=PREFIX).delete()
