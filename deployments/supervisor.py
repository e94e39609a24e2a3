"""Keeps a child process (the task worker) running: restarted with backoff, and why it stopped.

``manage.py serve`` starts the worker through this. A worker that exits
(crash, ``SIGKILL``, out of memory) is started again after a delay that
doubles with each quick failure (up to ``max_delay``) and returns to
``min_delay`` once a child has stayed up for ``stable_after`` seconds, so a
worker that cannot start does not spin. Each exit is logged with its exit
code or signal.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Callable, Sequence

logger = logging.getLogger("qiro.supervisor")


def describe_exit(returncode: int) -> str:
    """``exit code 1`` or ``signal 9 (SIGKILL)``."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown"
        return f"signal {-returncode} ({name})"
    return f"exit code {returncode}"


class Supervisor:
    """Start ``command``; on every ``poll()``, restart it if it has exited and its delay passed."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        name: str = "worker",
        env: dict[str, str] | None = None,
        min_delay: float = 1.0,
        max_delay: float = 60.0,
        stable_after: float = 60.0,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.command = list(command)
        self.name = name
        self.env = env
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.stable_after = stable_after
        self.report = report or logger.warning
        self.delay = min_delay
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.restart_at: float | None = None
        self.restarts = 0

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env)  # noqa: S603 - fixed command
        self.started_at = time.monotonic()
        self.restart_at = None

    def poll(self) -> None:
        """Notice an exit (log it, schedule the restart) or restart when the delay has passed."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restarts += 1
                self.start()
            return
        if self.process is None or self.process.poll() is None:
            return
        returncode = self.process.returncode
        if now - self.started_at >= self.stable_after:
            self.delay = self.min_delay
        self.report(
            f"{self.name} (pid {self.process.pid}) stopped with {describe_exit(returncode)} "
            f"after {now - self.started_at:.1f} s; restarting in {self.delay:g} s"
        )
        self.restart_at = now + self.delay
        self.delay = min(self.max_delay, self.delay * 2)

    def stop(self, *, timeout: float = 15.0) -> None:
        """Terminate the child (kill it after ``timeout``) and start no other."""
        self.restart_at = None
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        if not wait_patiently(process, timeout=timeout):
            process.kill()
            wait_patiently(process, timeout=timeout)


def wait_patiently(process: subprocess.Popen[bytes], *, timeout: float) -> bool:
    """Wait for ``process`` to end (True) or ``timeout`` to pass (False).

    A further Ctrl-C while the child shuts down (a terminal sends it to the
    whole process group) does not abandon the wait.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
            return True
        except subprocess.TimeoutExpired:
            return False
        except KeyboardInterrupt:
            continue
