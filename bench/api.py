"""The JSON API over HTTP at a named scale: gunicorn as in production, on 127.0.0.1.

gunicorn (``--workers``, ``DJANGO_DEBUG=false``, behind a pretend TLS proxy) is
started here against the scale's database, and on the largest company:

* one client on a kept-alive connection, ``--runs`` each: ``/health/`` (no
  database: the floor of the server on the machine as loaded now), ``auth/me``
  with a token and with a cookie, the first page of ``users`` and a deep one (through
  the keyset cursor), the permission history's first page and a deep one, and
  the history filtered by user;
* ``--logins`` sign-ins at once (``auth/sign-in``, Argon2): success and p50/p99;
* ``--calls`` token-authenticated ``auth/me`` calls at once, each on its own
  connection (opened when all go, so that no idle connection holds a sync
  worker): success, p50/p99 and calls per second;
* EXPLAIN (ANALYZE) of the deep pages as the runtime role: the plans must read
  an index, never scan the table.

    .venv/bin/python bench/api.py large [--runs 300] [--logins 100] [--calls 1000]
        [--history 5000000]
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import data
import http_load

API = "/api/v1"


class JsonClient:
    """A kept-alive connection to one host, with a token or a session cookie."""

    def __init__(self, port: int, host: str) -> None:
        self.port, self.host = port, host
        self.token: str | None = None
        self.cookie: str | None = None
        self.csrf: str | None = None
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        headers = {"Host": self.host, "X-Forwarded-Proto": "https", "Accept-Language": "ko"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.cookie:
            headers["Cookie"] = f"sessionid={self.cookie}"
            headers["X-CSRFToken"] = self.csrf or ""
            headers["Referer"] = f"https://{self.host}/"
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        began = time.perf_counter()
        self.connection.request(method, API + path, body=payload, headers=headers)
        response = self.connection.getresponse()
        raw = response.read()
        elapsed = (time.perf_counter() - began) * 1000
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith("sessionid="):
                self.cookie = header.split(";", 1)[0].split("=", 1)[1]
        return response.status, json.loads(raw) if raw else None, elapsed

    def sign_in(self, email: str, **more: Any) -> float:
        status, answer, elapsed = self.call(
            "POST", "/auth/sign-in", {"email": email, "password": data.PASSWORD, **more}
        )
        assert status == 200, (email, status, answer)
        if answer["authenticated_by"] == "token":
            self.token = answer["token"]
        else:
            self.csrf = answer["csrf_token"]
        return elapsed

    def close(self) -> None:
        self.connection.close()


def timed_calls(client: JsonClient, pages: dict[str, str], runs: int) -> dict[str, list[float]]:
    """Each path ``runs`` times (after a warm-up), every answer checked."""
    samples: dict[str, list[float]] = {label: [] for label in pages}
    for label, path in pages.items():
        client.call("GET", path)
        for _ in range(runs):
            status, body, elapsed = client.call("GET", path)
            assert status == 200, (label, status, body)
            samples[label].append(elapsed)
    return samples


def _health(client: JsonClient) -> float:
    began = time.perf_counter()
    client.connection.request("GET", "/health/", headers={"Host": client.host})
    response = client.connection.getresponse()
    response.read()
    assert response.status == 200
    return (time.perf_counter() - began) * 1000


def at_once(count: int, work: Any) -> tuple[int, list[float], float]:
    """``count`` threads run ``work()`` after a barrier: (succeeded, ms of each, seconds)."""
    results: list[tuple[bool, float]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(count + 1)

    def one() -> None:
        try:
            ready = work()  # prepared first; all go at once (and connect then)
            barrier.wait()
            outcome = ready()
        except Exception:  # a refused or dropped connection counts as a failure
            outcome = (False, float("nan"))
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    span = time.perf_counter() - began
    return sum(ok for ok, _ in results), [ms for ok, ms in results if ok], span


def top_up_history(company: Any, rows: int) -> None:
    """Bring the company's permission history to ``rows`` rows, as the owner, once.

    Written like ``bench/data.py`` writes it (set-based, spread over the last
    year, by the company's administrators); the table has no trigger of its own.
    """
    from django.db import connections
    from psycopg import sql

    table = sql.Identifier(company.schema_name, "sysauth_rolepermissionhistory")
    users = sql.Identifier(company.schema_name, "sysauth_user")
    roles = sql.Identifier(company.schema_name, "sysauth_role")
    with connections["owner"].cursor() as cursor:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(table))
        missing = rows - int(cursor.fetchone()[0])
        if missing <= 0:
            return
        print(f"  adding {missing:,} history rows to {company.schema_name}", flush=True)
        cursor.execute(
            sql.SQL("""
            WITH ids AS (
                SELECT (SELECT array_agg(id ORDER BY id) FROM {roles}) AS roles,
                       (SELECT array_agg(id ORDER BY id) FROM {users}) AS users,
                       (SELECT array_agg(id ORDER BY id) FROM {users}
                        WHERE user_type <> 'member') AS admins
            )
            INSERT INTO {table} (company_id, operation, table_name, role_id, user_id,
                permission, old_values, new_values, actor_id, changed_at)
            SELECT %(company)s, (ARRAY['INSERT', 'INSERT', 'DELETE', 'UPDATE'])[1 + g %% 4],
                CASE WHEN g %% 4 = 0 THEN 'sysauth_rolepermission' ELSE 'sysauth_userrole' END,
                ids.roles[1 + g %% cardinality(ids.roles)],
                CASE WHEN g %% 4 <> 0
                     THEN ids.users[1 + (g::bigint * 7919) %% cardinality(ids.users)] END,
                CASE WHEN g %% 4 = 0 THEN 'sysauth.view_user' ELSE '' END,
                NULL, jsonb_build_object('n', g), ids.admins[1 + g %% cardinality(ids.admins)],
                now() - ((g::bigint * 104729) %% 31536000) * interval '1 second'
            FROM ids, generate_series(1, %(missing)s) AS g
            """).format(table=table, users=users, roles=roles),
            {"company": company.pk, "missing": missing},
        )  # fmt: skip
        cursor.execute(sql.SQL("VACUUM (ANALYZE) {}").format(table))


def deep_cursors(company: Any) -> dict[str, str]:
    """Cursors deep into the users (90 %) and the history (99 %), read as the owner."""
    from django.db import connections
    from psycopg import sql

    from api.pagination import encode_cursor

    schema = sql.Identifier(company.schema_name)
    with connections["owner"].cursor() as cursor:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}.sysauth_rolepermissionhistory").format(
            schema))  # fmt: skip
        history = int(cursor.fetchone()[0])
        cursor.execute(
            sql.SQL("SELECT changed_at, id FROM {}.sysauth_rolepermissionhistory "
                    "ORDER BY changed_at DESC, id DESC OFFSET %s LIMIT 1").format(schema),
            [history * 99 // 100],
        )  # fmt: skip
        at, pk = cursor.fetchone()
        cursor.execute(
            sql.SQL("SELECT email FROM {}.sysauth_user ORDER BY email OFFSET %s LIMIT 1").format(
                schema),
            [company.user_count * 9 // 10],
        )  # fmt: skip
        (email,) = cursor.fetchone()
    return {"history": encode_cursor(at, pk), "users": encode_cursor(email),
            "history_rows": str(history)}  # fmt: skip


def explain_deep_pages(company: Any, cursors: dict[str, str], user_id: int) -> dict[str, Any]:
    """The plans of the deep pages, run as the runtime role in the company's context."""
    from api.company.history import HistoryFilters, history_rows
    from api.company.users import UserFilters, user_rows
    from qiro import tenant_context

    queries = {
        "history, deep": lambda: history_rows(HistoryFilters(cursor=cursors["history"])),
        "history of a user, first page": lambda: history_rows(HistoryFilters(user_id=user_id)),
        "users, deep": lambda: user_rows(UserFilters(cursor=cursors["users"])),
    }
    plans: dict[str, Any] = {}
    with tenant_context.company_context(company):
        for label, rows in queries.items():
            plan = rows().explain(analyze=True)
            scans_table = "Seq Scan on sysauth_rolepermissionhistory" in plan or (
                "Seq Scan on sysauth_user " in plan and "users" in label
            )
            plans[label] = {"uses_index": "Index" in plan and not scans_table, "plan": plan}
    return plans


def run(scale: str, runs: int, logins: int, calls: int, workers: int, history: int) -> int:
    from qiro import tenant_context
    from sysauth.models import Session, User
    from sysauth.models_tokens import ApiToken

    company, host = http_load.prepare()
    with tenant_context.company_context(company):
        # The bulk administrators, then the first one (an owner): a small company may
        # have a single administrator of each kind.
        admins = sorted(
            User.objects.filter(is_active=True, user_type__in=["admin", "owner"])
            .order_by("pk").values_list("email", "pk")[:20],
            key=lambda row: not row[0].startswith("user"),
        )  # fmt: skip
        members = list(
            User.objects.filter(is_active=True, user_type="member", email__startswith="user")
            .order_by("pk").values_list("email", flat=True)[:logins]
        )  # fmt: skip
    top_up_history(company, history)
    cursors = deep_cursors(company)
    print(f"company: {company.schema_name} at {host}, {company.user_count:,} users, "
          f"{int(cursors['history_rows']):,} history rows", flush=True)  # fmt: skip
    port = http_load.free_port()
    process = http_load.start_gunicorn(port, workers)
    try:
        by_token = JsonClient(port, host)
        assert admins, "the largest company has no administrator"
        by_token.sign_in(admins[0][0], token_name="bench")  # noqa: S106 - a label
        by_cookie = JsonClient(port, host)
        by_cookie.sign_in(admins[1 % len(admins)][0])
        deep_history = f"/permission-history?cursor={cursors['history']}"
        samples = timed_calls(by_token, {
            "me, token": "/auth/me",
            "users, first page": "/users",
            "users, deep page (keyset, 90 %)": f"/users?cursor={cursors['users']}",
            "history, first page": "/permission-history",
            "history, deep page (keyset, 99 %)": deep_history,
            "history of one user": f"/permission-history?user_id={admins[2 % len(admins)][1]}",
        }, runs)  # fmt: skip
        samples |= timed_calls(by_cookie, {"me, cookie": "/auth/me"}, runs)
        # The floor on this machine right now: the same server, no database, no API.
        baseline = JsonClient(port, host)
        samples["baseline: /health/ (no database)"] = [_health(baseline) for _ in range(runs)]
        baseline.close()
        print("  measured single calls", flush=True)

        def sign_in_work() -> Any:
            email = members.pop()
            client = JsonClient(port, host)

            def go() -> tuple[bool, float]:
                try:
                    return True, client.sign_in(email)
                finally:
                    client.close()

            return go

        signed, sign_in_ms, sign_in_span = at_once(len(members), sign_in_work)
        print("  measured sign-ins", flush=True)
        tokens = []
        for email, _pk in admins[:10]:
            client = JsonClient(port, host)
            client.sign_in(email, token_name="bench burst")  # noqa: S106 - a label
            tokens.append(client.token)
            client.close()
        counter = iter(range(calls))

        def me_work() -> Any:
            client = JsonClient(port, host)
            client.token = tokens[next(counter) % len(tokens)]

            def go() -> tuple[bool, float]:
                try:
                    status, _body, elapsed = client.call("GET", "/auth/me")
                    return status == 200, elapsed
                finally:
                    client.close()

            return go

        answered, me_ms, me_span = at_once(calls, me_work)
        print("  measured concurrent me calls", flush=True)
        by_token.close()
        by_cookie.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    plans = explain_deep_pages(company, cursors, admins[2 % len(admins)][1])
    with tenant_context.company_context(company):
        ApiToken.objects.filter(name__startswith="bench").delete()
        Session.objects.filter(user_agent="").delete()

    rows = {label: _common.summary(values) for label, values in samples.items()}
    if sign_in_ms:
        rows[f"sign-in, {logins} at once"] = _common.summary(sign_in_ms)
    if me_ms:
        rows[f"me (token), {calls} at once"] = _common.summary(me_ms)
    extra = {
        "scale": scale,
        "company": {
            "schema": company.schema_name,
            "users": company.user_count,
            "history_rows": int(cursors["history_rows"]),
        },
        "gunicorn_workers": workers,
        "concurrent_sign_ins": f"{signed}/{logins} succeeded in {sign_in_span:.1f} s",
        "concurrent_me": f"{answered}/{calls} succeeded in {me_span:.1f} s "
        f"({answered / me_span:.0f} calls/s)",
        "plans": {label: p["uses_index"] for label, p in plans.items()},
        "plan_text": {label: p["plan"] for label, p in plans.items()},
    }
    _common.report(f"api-{scale}", rows, {k: v for k, v in extra.items() if k != "plan_text"})
    _common.write_json(f"api-{scale}", {"results": rows, **extra})
    for label, plan in plans.items():
        print(f"--- {label}: {'index' if plan['uses_index'] else 'NO INDEX'}\n{plan['plan']}")
    # At the small scale a table may be small enough that a scan is the better plan.
    indexed = scale == "small" or all(p["uses_index"] for p in plans.values())
    ok = signed == logins and answered == calls and indexed
    return 0 if ok else 1


def main() -> None:
    parser = data.scale_arguments(__doc__, runs=300, logins=100, calls=1000, workers=4)
    parser.add_argument(
        "--history", type=int, default=0,
        help="first bring the largest company's permission history to this many rows "
             "(e.g. 5000000: the whole large scale's history in one company)",
    )  # fmt: skip
    args = parser.parse_args()
    data.ensure_scale(args.scale)
    sys.exit(run(args.scale, args.runs, args.logins, args.calls, args.workers, args.history))


if __name__ == "__main__":
    main()
