"""The production settings pass Django's deployment checks; the run command serves."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.db import connections
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_passes_with_production_settings():
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "qiro.example.kr,.qiro.example.kr",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env["DJANGO_DEBUG"] = "false"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str) -> tuple[int, str, dict[str, str]]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def test_serve_bootstraps_and_serves_health_and_admin_until_interrupted(live_db, tmp_path):
    params = connections["owner"].get_connection_params()
    keys = {"host", "port", "user", "password", "dbname"}
    conninfo = make_conninfo(**{k: str(v) for k, v in params.items() if k in keys and v})
    parts = dict(item.split("=", 1) for item in conninfo.split())
    url = f"postgresql://{parts['user']}@/{parts['dbname']}?host={parts['host']}"
    if "port" in parts:
        url += f"&port={parts['port']}"
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "QIRO_SUPERUSER_PASSWORD": secrets.token_urlsafe(),
        "QIRO_SCHEMA_POOL_SIZE": "0",  # other tests own this database's pool
        # collectstatic rewrites the folder; the other workers' WhiteNoise reads the project's.
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
    }
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body, headers = fetch(f"http://127.0.0.1:{port}/health/")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.2)
        assert (status, body) == (200, '{"status": "ok"}')
        assert headers["Content-Type"] == "application/json"
        status, body, _ = fetch(f"http://127.0.0.1:{port}/admin/login/")
        assert status == 200
        assert 'name="username"' in body
        status, _, headers = fetch(f"http://127.0.0.1:{port}/admin/")
        assert status == 302
        assert "/admin/login/" in headers["Location"]
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=30)[0]
    assert server.returncode == 0, output
    assert "QIRO is running" in output
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "gunicorn is still listening"
