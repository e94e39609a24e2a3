"""The pages ``bench/versus.py`` times through the test client, the same on both sides."""

from __future__ import annotations

import time
from typing import Any

# page: (path, what its answer must hold)
PATHS = {"home": ("/", b'name="password"'), "admin": ("/admin/", b'id="content-main"')}


def page(state: dict[str, Any], page: str, n: int) -> list[float]:
    """``n`` GETs of ``page`` by the side's client for it; milliseconds each, answers checked."""
    client = state["clients"][page]
    path, marker = PATHS[page]
    times = []
    for _ in range(n):
        began = time.perf_counter()
        answer = client.get(path, secure=True)
        times.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, answer.content[:300]
        assert marker in answer.content, answer.content[:300]
    return times
