"""What the owner and runtime backends share."""

from __future__ import annotations

import select
from pathlib import Path
from typing import Any

import psycopg
from psycopg import pq


class EmbeddedServerMixin:
    """Start the embedded server on first connect when no DATABASE_URL is set.

    The socket folder is only known once the server runs, so it is filled in
    here rather than in settings (which must import without side effects).
    """

    settings_dict: dict[str, Any]

    def get_connection_params(self) -> dict[str, Any]:
        data_dir = self.settings_dict.get("QIRO_EMBEDDED_DATA_DIR")
        if data_dir:
            from qiro import embedded

            self.settings_dict["HOST"] = str(embedded.ensure_server(Path(data_dir)))
        return super().get_connection_params()  # type: ignore[misc]


class QuietHealthCheckMixin:
    """``CONN_HEALTH_CHECKS`` without a round trip: the socket is asked, not the server.

    Django checks a kept connection before a request reuses it with
    ``SELECT 1``: a round trip on every request, for every alias it uses. A
    server that ended the session (a restart, ``pg_terminate_backend``, an idle
    timeout) has closed the socket, which then reads as ready: what it holds
    (the server's last message, or the end of the stream) is consumed here and
    libpq marks the connection bad. A healthy idle connection has nothing to
    read, and nothing is sent.
    """

    connection: Any

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        pgconn = connection.pgconn
        try:
            # What a closed session left: its last message, then the end of the
            # stream, which fails the read. A notice alone reads and leaves it well.
            for _ in range(3):
                ready, _, _ = select.select([pgconn.socket], [], [], 0)
                if not ready:
                    break
                pgconn.consume_input()
            else:
                return False
        except (OSError, psycopg.Error):
            return False
        return bool(pgconn.status == pq.ConnStatus.OK)
