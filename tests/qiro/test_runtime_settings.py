"""The runtime roles may connect through a pooler while the owner keeps the server."""

from __future__ import annotations

from qiro import settings


def test_runtime_host_and_port_default_to_the_owners(monkeypatch):
    monkeypatch.delenv("QIRO_RUNTIME_DB_HOST", raising=False)
    monkeypatch.delenv("QIRO_RUNTIME_DB_PORT", raising=False)
    owner = {"NAME": "qiro", "HOST": "db.internal", "PORT": "5432", "OPTIONS": {}}
    runtime = settings._runtime_database(owner, "app")
    assert (runtime["HOST"], runtime["PORT"]) == ("db.internal", "5432")


def test_runtime_host_and_port_point_the_runtime_roles_elsewhere(monkeypatch):
    monkeypatch.setenv("QIRO_RUNTIME_DB_HOST", "pgbouncer.internal")
    monkeypatch.setenv("QIRO_RUNTIME_DB_PORT", "6432")
    owner = {
        "NAME": "qiro", "HOST": "/srv/qiro/pgdata", "PORT": "", "OPTIONS": {},
        "QIRO_EMBEDDED_DATA_DIR": "/srv/qiro/pgdata",
    }  # fmt: skip
    for role in ("app", "platform"):
        runtime = settings._runtime_database(owner, role)
        assert (runtime["HOST"], runtime["PORT"]) == ("pgbouncer.internal", "6432")
        # the embedded server's socket folder would otherwise replace the host
        assert "QIRO_EMBEDDED_DATA_DIR" not in runtime
    assert owner["HOST"] == "/srv/qiro/pgdata"


def test_the_runtime_roles_plan_with_their_declared_settings(live_db):
    """Set per role and database by bootstrap: every runtime connection plans with them."""
    from django.db import connections

    from qiro import tenant_context
    from qiro.db.roles import RUNTIME_ROLE_SETTINGS

    tenant_context.clear()
    for alias in ("default", "platform"):
        connections[alias].close()  # a new session reads the role's settings
        with connections[alias].cursor() as cursor:
            for setting, value in RUNTIME_ROLE_SETTINGS.items():
                cursor.execute("SELECT current_setting(%s)", [setting])
                assert cursor.fetchone()[0] == value, (alias, setting)
