"""``manage.py serve`` keeps its worker running: restarted with backoff, the reason logged."""

from __future__ import annotations

import os
import signal
import sys

from deployments.models import WorkerHeartbeat
from deployments.supervisor import Supervisor, describe_exit

from .conftest import manage, subprocess_env, wait_for


def beating(pid: int) -> bool:
    return WorkerHeartbeat.objects.filter(pid=pid).exists()


def test_a_killed_worker_is_started_again_and_the_signal_is_logged(platform, two_companies):
    lines: list[str] = []
    supervisor = Supervisor(
        manage("worker", "--interval", "0.2"),
        env=subprocess_env(),
        min_delay=0.2,
        report=lines.append,
    )
    supervisor.start()
    try:
        assert supervisor.process is not None
        first = supervisor.process.pid
        wait_for(lambda: beating(first), "the first worker's heartbeat")
        os.kill(first, signal.SIGKILL)

        def restarted() -> bool:
            supervisor.poll()
            current = supervisor.process
            return current is not None and current.pid != first and beating(current.pid)

        wait_for(restarted, "a new worker's heartbeat")
        assert supervisor.process is not None
        assert supervisor.process.poll() is None
    finally:
        supervisor.stop()
    assert supervisor.restarts == 1
    assert len(lines) == 1
    assert f"worker (pid {first}) stopped with signal 9 (SIGKILL)" in lines[0]


def test_a_worker_that_keeps_failing_waits_longer_each_time():
    lines: list[str] = []
    supervisor = Supervisor(
        [sys.executable, "-c", "raise SystemExit(3)"],
        min_delay=0.05,
        max_delay=0.2,
        report=lines.append,
    )
    supervisor.start()
    try:

        def restarted_four_times() -> bool:
            supervisor.poll()
            return supervisor.restarts >= 4

        wait_for(restarted_four_times, "four restarts")
    finally:
        supervisor.stop()
    delays = [line.rsplit("restarting in ", 1)[1] for line in lines[:4]]
    assert delays == ["0.05 s", "0.1 s", "0.2 s", "0.2 s"]  # doubled, then the cap
    assert all("stopped with exit code 3" in line for line in lines)
    assert describe_exit(-signal.SIGTERM) == "signal 15 (SIGTERM)"
