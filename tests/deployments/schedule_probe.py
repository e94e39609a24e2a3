"""Jobs for the schedule tests, registered through ``QIRO_SCHEDULE_EXTRA_JOBS``."""

from __future__ import annotations

import os
from datetime import datetime


def note(*, now: datetime) -> str:
    """Says which process ran it, so a test can tell the workers apart."""
    return f"noted by {os.getpid()} for {now.isoformat()}"


def fail(*, now: datetime) -> str:
    raise RuntimeError("the probe failed on purpose")


JOBS = {
    "tests.deployments.schedule_probe.note": "probe: note",
    "tests.deployments.schedule_probe.fail": "probe: fail",
}
