"""Schedules: the default routine, due runs recorded once, cron and intervals, the admin."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from deployments.models import Backup, Operation
from deployments.models_routine import FiguresSnapshot
from deployments.scheduling import runner, timing
from deployments.scheduling.defaults import DEFAULTS, install_defaults
from deployments.scheduling.models import RunStatus, Schedule, ScheduleRun
from qiro import tenant_context
from tests.conftest import english

from .schedule_probe import JOBS

NOTE = "tests.deployments.schedule_probe.note"
SEOUL = "Asia/Seoul"


pytestmark = pytest.mark.usefixtures("in_english")


@pytest.fixture
def probe_jobs(settings):
    settings.QIRO_SCHEDULE_EXTRA_JOBS = JOBS


@pytest.fixture
def probe(platform, probe_jobs):
    """A schedule of the probe job, removed afterwards."""
    schedule = Schedule.objects.create(
        name="probe: note", job=NOTE, interval_seconds=3600, next_run_at=timezone.now()
    )
    yield schedule
    with tenant_context.platform_context():  # a request in the test cleared the context
        Schedule.objects.filter(pk=schedule.pk).delete()


def forget_queued(operation: Operation | None) -> None:
    """An operation a test queued is not left for another test's worker to run."""
    if operation is not None:
        DBTaskResult.objects.filter(pk=operation.task_id).delete()
        Operation.objects.filter(pk=operation.pk).delete()


def importable(path: str) -> bool:
    module = path.rpartition(".")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


# --- when -------------------------------------------------------------------------


def test_a_cron_expression_is_read_in_seoul_time_and_kept_in_utc():
    daily = Schedule(cron="30 2 * * *", time_zone=SEOUL)
    nine_in_seoul = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 09:00 KST
    assert timing.next_run(daily, after=nine_in_seoul) == datetime(2026, 12, 1, 17, 30, tzinfo=UTC)
    in_utc = Schedule(cron="30 2 * * *", time_zone="UTC")
    assert timing.next_run(in_utc, after=nine_in_seoul) == datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    monthly = Schedule(cron="0 6 1 * *", time_zone=SEOUL)
    mid_december = datetime(2026, 12, 15, tzinfo=UTC)
    assert timing.next_run(monthly, after=mid_december) == datetime(2026, 12, 31, 21, tzinfo=UTC)


def test_seoul_has_no_daylight_saving_so_a_daily_run_keeps_its_utc_hour_all_year():
    daily = Schedule(cron="0 3 * * *", time_zone=SEOUL)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    hours = set()
    for _day in range(366):
        moment = timing.next_run(daily, after=moment)
        hours.add(moment.hour)
    assert hours == {18}  # 03:00 KST is always 18:00 UTC the day before


def test_an_interval_counts_from_the_moment_given_and_a_cron_has_a_period():
    every_90 = Schedule(interval_seconds=90)
    moment = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert timing.next_run(every_90, after=moment) == moment + timedelta(seconds=90)
    assert timing.period(every_90, at=moment) == timedelta(seconds=90)
    weekly = Schedule(cron="0 4 * * 0", time_zone=SEOUL)
    assert timing.period(weekly, at=moment) == timedelta(days=7)


def test_a_schedule_needs_exactly_one_valid_timing_a_known_job_and_zone(probe_jobs):
    def errors(**fields: object) -> dict[str, list[str]]:
        schedule = Schedule(name="x", job=NOTE, **fields)
        with pytest.raises(ValidationError) as caught:
            schedule.clean()
        return caught.value.message_dict

    assert "cron" in errors(cron="0 * * * *", interval_seconds=60)
    assert "cron" in errors()
    assert "cron" in errors(cron="61 * * * *")
    assert "interval_seconds" in errors(interval_seconds=5)
    assert "time_zone" in errors(cron="0 * * * *", time_zone="Mars/Olympus")
    unknown = Schedule(name="x", job="os.system", cron="0 * * * *")
    with pytest.raises(ValidationError) as caught:
        unknown.clean()
    assert "job" in caught.value.message_dict
    Schedule(name="x", job=NOTE, cron="*/5 * * * *").clean()  # valid: no error


def test_the_database_refuses_a_schedule_with_both_or_neither_timing(platform, probe_jobs):
    for fields in ({"interval_seconds": 60, "cron": "0 * * * *"}, {}):
        with pytest.raises(IntegrityError), transaction.atomic(using="platform"):
            Schedule.objects.create(name="both or neither", job=NOTE, **fields)


# --- running ------------------------------------------------------------------------


def test_bootstrap_installs_the_defaults_once_and_keeps_what_an_admin_changed(platform):
    names = {d.name for d in DEFAULTS}
    assert set(Schedule.objects.filter(name__in=names).values_list("name", flat=True)) == names
    edited = Schedule.objects.get(name="daily: backup")
    Schedule.objects.filter(pk=edited.pk).update(cron="45 3 * * *")
    gone = Schedule.objects.get(name="weekly: index health")
    gone.delete()
    try:
        assert install_defaults(using="owner") == 1
        assert Schedule.objects.get(pk=edited.pk).cron == "45 3 * * *"
        assert Schedule.objects.filter(name=gone.name, job=gone.job).exists()
        assert install_defaults(using="owner") == 0
    finally:
        Schedule.objects.filter(pk=edited.pk).update(cron=edited.cron)
        Schedule.objects.filter(name__in=names).update(enabled=False)


def test_the_default_routine_runs_when_time_has_come_and_every_run_is_recorded(
    platform, two_companies
):
    names = [d.name for d in DEFAULTS]
    Schedule.objects.filter(name__in=names).update(enabled=True)
    later = timezone.now() + timedelta(days=32)  # the monthly one is due too
    newest_backup = (
        Backup.objects.filter(status=Backup.Status.OK, scope=Backup.Scope.DATABASE)
        .order_by("-created_at")
        .first()
    )
    try:
        runs = {run.schedule.name: run for run in runner.run_due(now=later)}
        assert sorted(runs) == sorted(names)
        assert runner.run_due(now=later) == [], "nothing is due twice"
    finally:
        Schedule.objects.filter(name__in=names).update(enabled=False)
        with tenant_context.owner_context():  # the daily figures, dated a month ahead
            FiguresSnapshot.objects.filter(day__gt=timezone.localdate()).delete()
    for name in ("hourly: expire sessions", "hourly: refill the schema pool",
                 "daily: token partitions"):  # fmt: skip
        assert runs[name].status == RunStatus.SUCCEEDED, runs[name].error
    assert english(runs["hourly: expire sessions"].result).startswith("Sessions cleaned in ")
    try:
        for name, kind in (("daily: verification", Operation.Kind.VERIFY),
                           ("daily: backup", Operation.Kind.BACKUP)):  # fmt: skip
            run = runs[name]
            assert run.status == RunStatus.SUCCEEDED, run.error
            assert run.operation is not None
            assert run.operation.kind == kind
            assert run.operation.status == Operation.Status.QUEUED
            assert run.operation.requested_by == f"schedule: {name}"
        restore = runs["weekly: test restore"]
        if newest_backup is None:
            assert restore.status == RunStatus.FAILED
            assert "no complete whole-database backup" in english(restore.result)
        else:
            assert restore.operation is not None
            assert restore.operation.parameters == {"backup": newest_backup.pk}
        for default in DEFAULTS:
            run = runs[default.name]
            if not importable(default.job):  # written beside this, merged later
                assert run.status == RunStatus.FAILED
                assert run.result.startswith("Job not found: " + default.job), run.result
            assert run.finished_at is not None
            assert run.duration_seconds is not None
            schedule = Schedule.objects.get(name=default.name)
            assert schedule.last_run_at == run.started_at
            assert schedule.last_status == run.status
            assert schedule.last_result == run.result
            assert schedule.next_run_at is not None
            assert schedule.next_run_at > later
    finally:
        for run in runs.values():
            forget_queued(run.operation)


def test_a_missed_run_is_run_once_not_once_per_missed_slot(probe):
    now = timezone.now()
    Schedule.objects.filter(pk=probe.pk).update(
        next_run_at=now - timedelta(hours=5), last_run_at=now - timedelta(hours=6)
    )
    assert len(runner.run_due(now=now)) == 1
    assert runner.run_due(now=now) == []
    assert runner.run_due(now=now + timedelta(minutes=59)) == []
    probe.refresh_from_db()
    assert probe.next_run_at is not None
    assert now + timedelta(minutes=59) < probe.next_run_at < now + timedelta(minutes=61)
    assert ScheduleRun.objects.filter(schedule=probe).count() == 1


def test_a_missed_cron_run_is_run_once_and_then_waits_for_its_next_slot(probe):
    now = timezone.now()
    Schedule.objects.filter(pk=probe.pk).update(
        interval_seconds=None, cron="0 3 * * *", next_run_at=now - timedelta(days=5)
    )
    assert len(runner.run_due(now=now)) == 1
    assert runner.run_due(now=now) == []
    probe.refresh_from_db()
    assert probe.next_run_at == timing.next_run(probe, after=probe.next_run_at - timedelta(days=1))
    assert now < probe.next_run_at <= now + timedelta(days=1)


def test_a_disabled_schedule_does_not_run_when_due(probe):
    Schedule.objects.filter(pk=probe.pk).update(enabled=False)
    assert runner.run_due(now=timezone.now() + timedelta(days=1)) == []


MISSING_JOB = "tests.deployments.schedule_probe_gone.nightly"


def test_a_job_that_is_not_there_gives_a_failed_run_not_a_crash(platform, settings):
    """A known job whose module is gone (a release removed it) fails its run, nothing else."""
    settings.QIRO_SCHEDULE_EXTRA_JOBS = {MISSING_JOB: "gone"}
    assert not importable(MISSING_JOB)
    schedule = Schedule.objects.create(
        name="not there any more",
        job=MISSING_JOB,
        interval_seconds=3600,
        next_run_at=timezone.now(),
    )
    try:
        (run,) = runner.run_due()
        assert run.status == RunStatus.FAILED
        assert run.result.startswith(f"Job not found: {MISSING_JOB}")
        schedule.refresh_from_db()
        assert schedule.last_status == RunStatus.FAILED
        assert schedule.next_run_at is not None
        assert schedule.next_run_at > timezone.now()
    finally:
        schedule.delete()


def test_a_failing_job_is_a_failed_run_with_its_error(probe):
    Schedule.objects.filter(pk=probe.pk).update(job="tests.deployments.schedule_probe.fail")
    (run,) = runner.run_due()
    assert run.status == RunStatus.FAILED
    assert run.result == "the probe failed on purpose"
    assert "RuntimeError" in run.error


def test_a_run_whose_worker_died_is_failed_when_its_lease_expires(probe):
    run = ScheduleRun.objects.create(
        schedule=probe,
        job=probe.job,
        started_at=timezone.now(),
        lease_holder="worker-gone-123",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert runner.reap_expired() == 1
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "The worker stopped during probe: note" in english(run.result)
    probe.refresh_from_db()
    assert probe.last_status == RunStatus.FAILED


# --- the admin -------------------------------------------------------------------------


def test_the_admin_lists_schedules_with_their_last_runs_and_filters_the_runs(staff_client, probe):
    Schedule.objects.filter(pk=probe.pk).update(next_run_at=timezone.now())
    (run,) = runner.run_due()
    tenant_context.clear()
    page = staff_client.get("/admin/deployments/schedule/", HTTP_HOST="localhost")
    assert page.status_code == 200
    text = page.content.decode()
    assert "probe: note" in text  # a name given by an administrator stays as given
    assert run.result in text
    assert "매일: 검증" in text  # a default schedule's name, in the reader's language
    assert "daily: verification" not in text
    runs = staff_client.get(
        "/admin/deployments/schedulerun/?status__exact=succeeded", HTTP_HOST="localhost"
    )
    assert runs.status_code == 200
    assert run.result in runs.content.decode()
    failed = staff_client.get(
        "/admin/deployments/schedulerun/?status__exact=failed", HTTP_HOST="localhost"
    )
    assert run.result not in failed.content.decode()


def test_run_now_from_the_admin_asks_first_then_the_worker_runs_it_once(staff_client, probe):
    Schedule.objects.filter(pk=probe.pk).update(next_run_at=timezone.now() + timedelta(days=1))
    tenant_context.clear()
    chosen = {"action": "run_now", "_selected_action": [probe.pk]}
    asked = staff_client.post("/admin/deployments/schedule/", chosen, HTTP_HOST="localhost")
    assert asked.status_code == 200
    assert 'name="confirmed" value="yes"' in asked.content.decode()
    with tenant_context.platform_context():
        assert Schedule.objects.get(pk=probe.pk).run_requested_at is None, "not before confirming"
    confirmed = staff_client.post(
        "/admin/deployments/schedule/", {**chosen, "confirmed": "yes"}, HTTP_HOST="localhost"
    )
    assert confirmed.status_code == 302
    with tenant_context.platform_context():
        assert Schedule.objects.get(pk=probe.pk).run_requested_at is not None
        (run,) = runner.run_due()
        assert run.trigger == ScheduleRun.Trigger.REQUESTED
        assert run.requested_by == "platform-staff@qiro.example.kr"
        assert run.status == RunStatus.SUCCEEDED
        assert runner.run_due() == []


def test_a_schedule_edited_in_the_admin_is_rescheduled(staff_client, probe):
    tenant_context.clear()
    url = f"/admin/deployments/schedule/{probe.pk}/change/"
    form = {"name": probe.name, "job": NOTE, "interval_seconds": "", "cron": "0 3 * * *",
            "time_zone": SEOUL, "enabled": "on"}  # fmt: skip
    response = staff_client.post(url, form, HTTP_HOST="localhost")
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context.platform_context():
        probe.refresh_from_db()
    assert probe.cron == "0 3 * * *"
    assert probe.next_run_at is not None
    assert timezone.localtime(probe.next_run_at, timing.ZoneInfo(SEOUL)).hour == 3
    refused = staff_client.post(url, {**form, "interval_seconds": "600"}, HTTP_HOST="localhost")
    assert refused.status_code == 200, "both timings: the form says so"


def test_a_schedule_runs_only_jobs_of_the_registry_even_if_its_row_names_another(platform):
    """Attack: a schedule row (written past the admin's form) names an unlisted function."""
    schedule = Schedule.objects.create(
        name="not a listed job", job=NOTE, interval_seconds=3600, next_run_at=timezone.now()
    )  # NOTE is listed only when the probe jobs are added to the settings, not here
    try:
        (run,) = runner.run_due()
        assert run.status == RunStatus.FAILED
        assert run.result == f"Job not found: {NOTE} is not a known job."
        assert not run.result.startswith("noted"), "the unlisted function never ran"
    finally:
        schedule.delete()


def test_the_admin_offers_only_the_registry_s_jobs(staff_client, probe):
    tenant_context.clear()
    form = {"name": "free input", "job": "os.system", "interval_seconds": "3600", "cron": "",
            "time_zone": SEOUL, "enabled": "on"}  # fmt: skip
    response = staff_client.post("/admin/deployments/schedule/add/", form, HTTP_HOST="localhost")
    assert response.status_code == 200, "refused with a form error"
    with tenant_context.platform_context():
        assert not Schedule.objects.filter(name="free input").exists()
