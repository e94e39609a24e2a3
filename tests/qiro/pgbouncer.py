"""A PgBouncer in transaction pooling mode, started in front of the test database.

One server connection for the database (``default_pool_size =
max_db_connections = 1``) and no ``server_reset_query``: every client takes
turns on the same PostgreSQL session and inherits what the previous one left.
It runs from a temporary folder on a free port of 127.0.0.1; as root it is
started with ``-u`` (it refuses to run as root): as the owner of the embedded
server's socket folder, or as ``nobody`` for a TCP server.
"""

from __future__ import annotations

import contextlib
import copy
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connections

from tests.conftest import stop_process


def find_pgbouncer() -> str | None:
    found = shutil.which("pgbouncer")
    if found is None and os.access("/usr/sbin/pgbouncer", os.X_OK):
        found = "/usr/sbin/pgbouncer"
    return found


PGBOUNCER = find_pgbouncer()
STARTUP_SECONDS = 15

CONFIG = """\
[databases]
{alias} = host={host} port={port} dbname={dbname}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/users.txt
pool_mode = transaction
default_pool_size = 1
min_pool_size = 0
reserve_pool_size = 0
max_db_connections = 1
max_client_conn = 8
query_wait_timeout = 30
server_reset_query =
logfile = {folder}/pgbouncer.log
"""


@dataclass(frozen=True)
class Bouncer:
    port: int
    dbname: str
    runtime_user: str
    # search_path of a fresh server session of the runtime role (the default)
    fresh_search_path: str

    def settings_for(self, alias: str) -> dict[str, Any]:
        """The settings of ``alias`` (a runtime alias), pointed at PgBouncer."""
        settings_dict = copy.deepcopy(connections[alias].settings_dict)
        settings_dict.pop("QIRO_EMBEDDED_DATA_DIR", None)  # else the backend resets HOST
        settings_dict.update(HOST="127.0.0.1", PORT=str(self.port), NAME=self.dbname)
        return settings_dict

    def raw_connection(self) -> psycopg.Connection[Any]:
        """A client of PgBouncer that sets no context at all (not Django's backend)."""
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            dbname=self.dbname,
            user=self.runtime_user,
            autocommit=True,
            prepare_threshold=None,
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_address() -> tuple[str, int, str]:
    """Host (a socket folder or an address), port and database of the test database."""
    owner = connections["owner"]
    owner.ensure_connection()
    info = owner.connection.info
    return info.host, info.port, info.dbname


def run_as(host: str) -> str | None:
    """The user PgBouncer switches to when started by root (it refuses to run as root)."""
    if os.geteuid() != 0:
        return None
    if host.startswith("/"):  # a Unix socket folder, readable by its owner only
        return pwd.getpwuid(os.stat(host).st_uid).pw_name
    return "nobody"


@contextlib.contextmanager
def running_pgbouncer(host: str, port: int, dbname: str, users: list[str]) -> Iterator[int]:
    assert PGBOUNCER is not None
    folder = Path(tempfile.mkdtemp(prefix="qiro-pgbouncer-"))
    listen_port = free_port()
    (folder / "users.txt").write_text("".join(f'"{user}" ""\n' for user in users))
    (folder / "pgbouncer.ini").write_text(
        CONFIG.format(
            alias=dbname, host=host, port=port, dbname=dbname, listen_port=listen_port,
            folder=folder,
        )
    )  # fmt: skip
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    user = run_as(host)
    if user is not None:
        account = pwd.getpwnam(user)
        for path in (folder, *folder.iterdir()):
            os.chown(path, account.pw_uid, account.pw_gid)
        command[1:1] = ["-u", user]
    with open(folder / "stderr.log", "w") as stderr:
        process = subprocess.Popen(command, stdout=stderr, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                logs = [(folder / name) for name in ("stderr.log", "pgbouncer.log")]
                text = "\n".join(p.read_text(errors="replace") for p in logs if p.exists())
                pytest.fail(f"pgbouncer did not start ({' '.join(command)}):\n{text}")
            try:
                socket.create_connection(("127.0.0.1", listen_port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        yield listen_port
    finally:
        stop_process(process, grace=10)
        shutil.rmtree(folder, ignore_errors=True)
