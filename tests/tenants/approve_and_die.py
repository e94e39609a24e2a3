"""Approve an application in this process, and SIGKILL the process at one step boundary.

    python tests/tenants/approve_and_die.py APPLICATION_ID REVIEWER_ID STEP

STEP is a step of ``tenants.provisioning.provision_company`` (its ``step_done``
signal), or ``migrations`` (as the migrations of a schema built for an empty
pool start). The process kills itself there, as an OOM killer or a
``kill -9`` of a gunicorn worker would: no ``finally``, no rollback from the
client, its connections simply gone. Exit status 0 means the step was never
reached.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def main(application_id: str, reviewer_id: str, step: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qiro.settings")
    import django

    django.setup()
    from django.db.models.signals import pre_migrate

    from registration.actions import approve_application
    from sysauth.models import User
    from tenants.provisioning import step_done

    def die(**kwargs: Any) -> None:
        if kwargs.get("step", "migrations") == step:
            os.kill(os.getpid(), signal.SIGKILL)

    step_done.connect(die, weak=False)
    if step == "migrations":
        pre_migrate.connect(die, weak=False)
    reviewer = User.objects.using("owner").get(pk=reviewer_id)
    approve_application(application_id=application_id, acting_user=reviewer)


if __name__ == "__main__":
    main(*sys.argv[1:4])
