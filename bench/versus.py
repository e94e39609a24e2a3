"""QIRO beside a plain django-tenants project (``bench/peer/``), on one server, interleaved.

Two worker processes, one per project (a process holds one settings module),
answer the same requests in alternating rounds, so that the machine's noise
falls on both alike. Measured:

* the company home page (anonymous: the sign-in form) and the signed-in admin
  index, ``--requests`` each, through Django's test client, then through
  gunicorn (``--workers`` each, one kept-alive client alternating between them);
* tenant creation (django-tenants: ``Client.save()`` migrating the new schema)
  against QIRO's approval (warm schema pool), ``--creations`` each;
* a no-op ``migrate_schemas`` over the peer's tenants against QIRO's ``deploy``
  over its companies (the ``small`` scale: 50 each), ``--migrate-runs`` each.

QIRO runs as in production: row security on, the runtime role, its sessions.
The peer connects as the server's superuser, like django-tenants' examples.
Both keep connections open (60 s) and render Korean.

    .venv/bin/python -m qiro.embedded exec -- .venv/bin/python bench/versus.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import http_load

PEER_DB = os.environ.get("QIRO_BENCH_PEER_DATABASE", "qiro_bench_peer")
PEER_ADMIN = "admin@peer.example.kr"
SIDES = ("qiro", "peer")


# --- the parent: rounds, alternating ------------------------------------------------


class Worker:
    """A worker process of one side, spoken to in JSON lines."""

    def __init__(self, side: str, env: dict[str, str]):
        self.side = side
        self.process = subprocess.Popen(  # noqa: S603 - this script, a fixed command line
            [sys.executable, __file__, "--worker", side],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip

    def ask(self, **command: Any) -> Any:
        assert self.process.stdin
        assert self.process.stdout
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.side} worker ended (see its output above)")
        return json.loads(line)

    def close(self) -> None:
        self.ask(op="quit")
        self.process.wait(timeout=60)


def peer_env(url: str, tenants: int) -> dict[str, str]:
    """The environment that points the peer's settings at the server of ``url``."""
    parts = urlsplit(url)
    host = parse_qs(parts.query).get("host", [parts.hostname or ""])[0]
    return {
        **http_load.production_env(),
        "DJANGO_SETTINGS_MODULE": "peer.settings",
        "PEER_DB_NAME": PEER_DB,
        "PEER_DB_USER": parts.username or "postgres",
        "PEER_DB_HOST": host,
        "PEER_DB_PORT": str(parts.port or ""),
        "PEER_TENANTS": str(tenants),
    }


def alternate(rounds: int, run: Any) -> dict[str, list[float]]:
    """``run(side)`` for both sides, ``rounds`` times, the first side swapped each round."""
    samples: dict[str, list[float]] = {side: [] for side in SIDES}
    for number in range(rounds):
        for side in SIDES if number % 2 == 0 else reversed(SIDES):
            samples[side].extend(run(side))
    return samples


def http_pages(
    ports: dict[str, int], hosts: dict[str, dict[str, Any]], requests: int, rounds: int
) -> dict[str, dict[str, list[float]]]:
    """The two pages through gunicorn: one browser a side, alternating every request."""
    browsers = {}
    for side in SIDES:
        anonymous = http_load.Browser(ports[side], hosts[side]["host"])
        signed_in = http_load.Browser(ports[side], hosts[side]["host"])
        where = hosts[side]
        ok, _ = signed_in.sign_in(where["login"], where["email"], where["password"])
        assert ok, f"{side}: the administrator could not sign in over HTTP"
        browsers[side] = {"home": anonymous, "admin": signed_in}
    pages = {"home": "/", "admin": "/admin/"}
    out: dict[str, dict[str, list[float]]] = {}
    per_round = max(1, requests // rounds)
    for page, path in pages.items():

        def run(side: str, page: str = page, path: str = path) -> list[float]:
            times = []
            for _ in range(per_round):
                status, body, elapsed = browsers[side][page].get(path)
                assert status == 200, (side, page, status, body[:200])
                times.append(elapsed)
            return times

        for side in SIDES:  # warm both (templates, connections) before timing
            browsers[side][page].get(path)
        out[page] = alternate(rounds, run)
    for pair in browsers.values():
        for browser in pair.values():
            browser.close()
    return out


def start_peer_gunicorn(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        [
            sys.executable, "-m", "gunicorn", "peer.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--timeout", "120", "--keep-alive", "30", "--log-level", "warning",
        ],
        cwd=Path(__file__).resolve().parent, env=env,
    )  # fmt: skip
    return process


def wait_for(port: int, host: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the peer's gunicorn ended")
        try:
            browser = http_load.Browser(port, host)
            status, _, _ = browser.get("/")
            browser.close()
            if status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the peer's gunicorn did not answer")


def ratios(rows: dict[str, dict[str, float]], label: str) -> dict[str, float]:
    qiro, peer = rows[f"{label}: QIRO"], rows[f"{label}: django-tenants"]
    return {
        "p50": round(qiro["p50_ms"] / peer["p50_ms"], 3),
        "p99": round(qiro["p99_ms"] / peer["p99_ms"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per page and side")
    parser.add_argument("--rounds", type=int, default=20, help="alternations per measure")
    parser.add_argument("--creations", type=int, default=10, help="tenants created per side")
    parser.add_argument("--migrate-runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers per side")
    parser.add_argument("--peer-tenants", type=int, default=50, help="tenants of the peer")
    parser.add_argument("--skip-http", action="store_true", help="the test client only")
    parser.add_argument("--out", default="versus.json", help="file name under bench/results/")
    args = parser.parse_args()

    qiro_url = _common.bench_database_url(os.environ.get("QIRO_BENCH_DATABASE", "qiro_bench_small"))
    # QIRO's production settings serve hashed static files from their manifest.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=_common.ROOT, env={**http_load.production_env(), "DATABASE_URL": qiro_url}, check=True,
    )  # fmt: skip
    peer = Worker("peer", peer_env(qiro_url, args.peer_tenants))
    qiro = Worker("qiro", {**http_load.production_env(), "DATABASE_URL": qiro_url})
    workers = {"qiro": qiro, "peer": peer}
    hosts = {side: workers[side].ask(op="ready") for side in SIDES}
    print(f"ready: QIRO at {hosts['qiro']['host']}, django-tenants at {hosts['peer']['host']}")
    samples: dict[str, dict[str, list[float]]] = {}
    per_round = max(1, args.requests // args.rounds)
    for page in ("home", "admin"):
        samples[f"test client: {page}"] = alternate(
            args.rounds,
            lambda side, page=page: workers[side].ask(op="page", page=page, n=per_round),
        )
        print(f"  test client: {page}", flush=True)
    if not args.skip_http:
        ports = {side: http_load.free_port() for side in SIDES}
        os.environ["DATABASE_URL"] = qiro_url
        servers = [
            http_load.start_gunicorn(ports["qiro"], args.workers),
            start_peer_gunicorn(ports["peer"], args.workers, peer_env(qiro_url, args.peer_tenants)),
        ]
        try:
            wait_for(ports["peer"], hosts["peer"]["host"], servers[1])
            for page, got in http_pages(ports, hosts, args.requests, args.rounds).items():
                samples[f"gunicorn: {page}"] = got
            print("  gunicorn: home, admin", flush=True)
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)
    for worker_ in workers.values():
        worker_.ask(op="warm", creations=args.creations)
    samples["tenant creation"] = alternate(
        args.creations, lambda side: workers[side].ask(op="create")
    )
    print("  tenant creation", flush=True)
    samples["no-op migrate"] = alternate(
        args.migrate_runs, lambda side: workers[side].ask(op="migrate")
    )
    print("  no-op migrate", flush=True)
    counts = {side: workers[side].ask(op="schemas") for side in SIDES}
    for worker in workers.values():
        worker.close()

    names = {"qiro": "QIRO", "peer": "django-tenants"}
    rows = {
        f"{label}: {names[side]}": _common.summary(values)
        for label, by_side in samples.items()
        for side, values in by_side.items()
    }
    extra = {
        "ratios_qiro_over_peer": {label: ratios(rows, label) for label in samples},
        "tenant_schemas": counts,
        "gunicorn_workers_per_side": args.workers,
        "what": {
            "no-op migrate": "QIRO deploy (state, verify, health) vs migrate_schemas (standard)",
            "tenant creation": "QIRO approval, warm pool vs Client.save() with auto_create_schema",
        },
    }
    os.environ["DATABASE_URL"] = qiro_url
    _common.setup_django(bootstrap=False)
    _common.report(args.out.removesuffix(".json"), rows, extra)


# --- the workers ---------------------------------------------------------------------


def worker(side: str) -> None:
    if side == "qiro":
        import versus_qiro as sides
    else:
        import versus_peer as sides  # type: ignore[no-redef]
    out = sys.stdout
    sys.stdout = sys.stderr  # anything printed by the project goes aside
    state = sides.prepare()
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop("op")
        if op == "quit":
            sides.finish(state)
            out.write("null\n")
            out.flush()
            return
        answer = getattr(sides, op)(state, **command)
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        main()
