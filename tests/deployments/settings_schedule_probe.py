"""The project's settings plus the probe jobs of the schedule tests (for worker processes)."""

from qiro.settings import *  # noqa: F403
from tests.deployments.schedule_probe import JOBS

QIRO_SCHEDULE_EXTRA_JOBS = JOBS
