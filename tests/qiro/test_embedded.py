"""The embedded server: created configured for many schemas, stopped without leftovers."""

from __future__ import annotations

import psycopg

from qiro import embedded


def test_a_new_embedded_server_is_configured_and_stops_cleanly(tmp_path):
    data_dir = tmp_path / "pgdata"
    assert not embedded.is_running(data_dir)
    url = embedded.database_url(data_dir)
    try:
        with psycopg.connect(url) as conn:
            settings: dict[str, str] = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                    [
                        [
                            "max_locks_per_transaction",
                            "shared_preload_libraries",
                            "server_version_num",
                        ]
                    ],
                ).fetchall()
            )
        assert (
            settings["max_locks_per_transaction"]
            == embedded.SERVER_SETTINGS["max_locks_per_transaction"]
        )
        assert "pg_stat_statements" in settings["shared_preload_libraries"]
        assert int(settings["server_version_num"]) >= 180000
        assert (embedded.bin_dir() / "pg_dump").exists()
        # a second start is a no-op that finds the same server
        assert embedded.database_url(data_dir) == url
    finally:
        assert embedded.stop(data_dir)
    assert not embedded.is_running(data_dir)
    assert not embedded.stop(data_dir)
