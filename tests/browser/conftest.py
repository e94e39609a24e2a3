"""A real browser against a real server: Playwright drives Debian's Chromium.

Skipped, saying why, where Playwright or Chromium is missing (``apt-get install
chromium``; ``.ci/run`` does it when it can). Chromium is found at
``QIRO_CHROMIUM``, else ``/usr/bin/chromium``, else on ``PATH``: Playwright
never downloads a browser here. Screenshots go to ``QIRO_SCREENSHOTS``
(default ``.qiro/screenshots``).

The server is Django's threaded WSGI server on 127.0.0.1 in the test process,
with the whole middleware stack, so it reads and writes the test database as
the runtime roles; company hosts are ``<sub>.localhost:<port>``, which Chromium
resolves to the loopback address itself.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

try:
    from playwright.sync_api import Browser, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("QIRO_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if sync_playwright is None:
        reason = "browser tests need Playwright (pip install playwright)"
    elif chromium_path() is None:
        reason = "browser tests need Chromium (apt-get install chromium, or set QIRO_CHROMIUM)"
    if reason:
        for item in items:
            if Path(str(item.fspath)).parent == Path(__file__).parent:
                item.add_marker(pytest.mark.skip(reason=reason))


class QuietRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class LiveServer:
    port: int

    def url(self, host: str = "localhost", path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def qiro_server(live_db: None) -> Iterator[LiveServer]:
    """The application on 127.0.0.1 and a free port, in a thread, for one test."""
    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietRequestHandler, allow_reuse_address=False)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield LiveServer(port=server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def screenshots() -> Path:
    folder = Path(os.environ.get("QIRO_SCREENSHOTS") or ROOT / ".qiro" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop in this thread; the test's own
    # database reads are synchronous all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield launched
        finally:
            launched.close()
