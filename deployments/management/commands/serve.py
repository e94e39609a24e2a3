"""Get the database ready and serve QIRO with gunicorn until Ctrl-C."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from deployments.supervisor import Supervisor, wait_patiently

SUPERVISE_SECONDS = 0.5


class Command(BaseCommand):
    help = "Bootstrap the database, collect static files and serve with gunicorn."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--bind", default=os.environ.get("QIRO_BIND", "127.0.0.1:8000"), metavar="HOST:PORT",
            help="address gunicorn listens on (default QIRO_BIND, else 127.0.0.1:8000; "
                 "0.0.0.0:8000 for every interface)",
        )  # fmt: skip
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 3)),
            help="gunicorn worker processes (default WEB_CONCURRENCY, else 3)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("bootstrap", verbosity=options["verbosity"])
        # Ready schemas for instant approvals (QIRO_SCHEMA_POOL_SIZE of them).
        call_command("fill_schema_pool", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        host, _, port = options["bind"].rpartition(":")
        shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host  # noqa: S104
        base = f"http://{settings.BASE_DOMAIN if shown == 'localhost' else shown}:{port}"
        self.stdout.write(
            self.style.SUCCESS("QIRO is running:")
            + f"\n  site            {base}/"
            + f"\n  platform admin  {base}/admin/"
            + f"\n  health          {base}/health/"
            + f"\n  company sites   http://<sub-domain>.{settings.BASE_DOMAIN}:{port}/"
            + "\nPress Ctrl-C to stop."
        )
        command = [
            sys.executable, "-m", "gunicorn", "qiro.wsgi:application",
            "--bind", options["bind"],
            "--workers", str(options["workers"]),
            "--access-logfile", "-",
            "--graceful-timeout", "5",
        ]  # fmt: skip
        server = subprocess.Popen(command)  # noqa: S603 - fixed command line
        # Background tasks (backups, verification, deploys) run beside the web server,
        # in a worker that is started again whenever it stops.
        worker = Supervisor(
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "worker"],
            report=lambda line: self.stderr.write(line),
        )
        worker.start()
        try:
            while server.poll() is None:
                worker.poll()
                time.sleep(SUPERVISE_SECONDS)
        except KeyboardInterrupt:
            pass
        finally:
            if server.poll() is None:
                server.terminate()
            worker.stop()
            if not wait_patiently(server, timeout=15):
                server.kill()
