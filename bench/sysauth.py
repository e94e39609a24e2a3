"""Sessions and roles at 10,000 users in one company, and concurrent sign-ins.

Measured as the runtime role in the company's context, each call its own
transaction, as in a request:

* session create  - a signed-in session written (one INSERT);
* session lookup  - the per-request validation: the row by key hash with its
  user's state, status and expiry checked;
* role assign     - ``services.assign_role`` (duplicate check, INSERT, history trigger);
* role lookup     - ``selectors.roles_of`` for one user;
* permission lookup - the roles' permissions of one user (what ``has_perm`` loads).

Then N concurrent sign-ins (POST /accounts/login/ with Argon2) through
gunicorn, started here on a free 127.0.0.1 port: success rate and p50/p99.

    .venv/bin/python -m qiro.embedded exec -- .venv/bin/python bench/sysauth.py \
        [--users 10000] [--runs 2000] [--logins 100] [--workers 4]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from _common import ROOT, report, setup_django, summary, timed

SCHEMA = "bench_sysauth"
HOST = "bench-sysauth.localhost"
PASSWORD = "bench-passphrase-2026"  # noqa: S105 - the bench users are throwaway


def build_users(count: int) -> None:
    """``count`` users with one precomputed hash, and the member role, set-based."""
    from django.contrib.auth.hashers import make_password
    from django.db import connections

    from sysauth.models import Role

    member = Role.objects.get(name=Role.MEMBER)
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "INSERT INTO sysauth_user (password, email, full_name, user_type, is_active, "
            "is_staff, is_superuser, date_joined) "
            "SELECT %s, 'user' || g || '@bench.example', 'User ' || g, 'member'::user_type, "
            "true, false, false, now() FROM generate_series(1, %s) AS g "
            "ON CONFLICT (email) DO NOTHING",
            [make_password(PASSWORD), count],
        )
        cursor.execute(
            "INSERT INTO sysauth_userrole (user_id, role_id, assigned_at) "
            "SELECT id, %s, now() FROM sysauth_user ON CONFLICT (user_id, role_id) DO NOTHING",
            [member.pk],
        )
        cursor.execute("ANALYZE sysauth_user")
        cursor.execute("ANALYZE sysauth_userrole")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(port: int, workers: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "qiro.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "120",
            "--backlog",
            "512",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/", headers={"Host": "localhost"})
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start")


def sign_in(port: int, email: str, start: threading.Barrier) -> tuple[bool, float]:
    """GET the form (CSRF cookie), wait for the others, then time the POST."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", "/accounts/login/", headers={"Host": HOST})
    page = conn.getresponse()
    body = page.read().decode()
    cookies = SimpleCookie()
    for header in page.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    conn.close()
    start.wait()
    began = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(
        "POST",
        "/accounts/login/",
        body=urlencode(
            {
                "username": email,
                "password": PASSWORD,
                "csrfmiddlewaretoken": token.group(1) if token else "",
            }
        ),
        headers={
            "Host": HOST,
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(f"{k}={v.value}" for k, v in cookies.items()),
            "Referer": f"http://{HOST}/accounts/login/",
        },
    )
    response = conn.getresponse()
    response.read()
    elapsed = (time.perf_counter() - began) * 1000
    signed_in = response.status == 302 and any(
        "sessionid=" in h for h in response.headers.get_all("Set-Cookie") or []
    )
    conn.close()
    return signed_in, elapsed


def concurrent_logins(count: int, workers: int) -> tuple[int, list[float]]:
    port = free_port()
    process = start_gunicorn(port, workers)
    results: list[tuple[bool, float]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def one(n: int) -> None:
        try:
            outcome = sign_in(port, f"user{n}@bench.example", barrier)
        except Exception:  # a refused or dropped connection is a failed sign-in
            outcome = (False, float("nan"))
        with lock:
            results.append(outcome)

    try:
        threads = [threading.Thread(target=one, args=(n,)) for n in range(1, count + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        process.terminate()
        process.wait(timeout=30)
    return sum(ok for ok, _ in results), [t for ok, t in results if ok]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--logins", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    setup_django()

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from qiro import tenant_context
    from sysauth import selectors, services
    from sysauth.backends import EmailBackend
    from sysauth.models import Role, Session, User, UserRole
    from sysauth.sessions.base import ClientInfo
    from sysauth.sessions.db import SessionStore
    from tenants.models import Company
    from tenants.services import create_company_with_migrations

    company = Company.objects.using("owner").filter(schema_name=SCHEMA).first()
    if company is None:
        company = create_company_with_migrations(
            name="Bench sysauth", business_registration_number="9999999998",
            schema_name=SCHEMA, domain=HOST,
        )  # fmt: skip
    client = ClientInfo(ip_address="127.0.0.1", user_agent="bench")
    backend = EmailBackend()
    rng = random.Random(42)

    with tenant_context.company_context(company):
        roles = services.ensure_default_roles()
        started = time.perf_counter()
        build_users(args.users)
        build_seconds = round(time.perf_counter() - started, 2)
        users = list(User.objects.order_by("pk").values_list("pk", flat=True)[: args.users])
        user_count = User.objects.count()
        # Start each run from the same state: no extra sessions or admin roles.
        Session.objects.all().delete()
        UserRole.objects.filter(role=roles[Role.ADMIN]).delete()

        picks = iter(rng.sample(users, min(args.runs, len(users))) * 2)
        keys: list[str] = []

        def create() -> None:
            store = SessionStore(None, client=client)
            pk = next(picks)
            store[SESSION_KEY] = str(pk)
            store[BACKEND_SESSION_KEY] = "sysauth.backends.EmailBackend"
            store[HASH_SESSION_KEY] = "x"
            store.create()
            assert store.session_key is not None
            keys.append(store.session_key)

        key_iter = iter(keys)

        def lookup() -> None:
            store = SessionStore(next(key_iter), client=client)
            assert store.load()

        admin_role = roles[Role.ADMIN]
        assign_users = iter(User.objects.filter(pk__in=rng.sample(users, args.runs)))

        def assign() -> None:
            services.assign_role(user=next(assign_users), role=admin_role)

        lookup_users = [User(pk=pk) for pk in rng.choices(users, k=args.runs)]
        role_users = iter(lookup_users)

        def role_lookup() -> None:
            assert selectors.roles_of(user=next(role_users))

        perm_users = iter(User(pk=u.pk, is_active=True) for u in lookup_users)

        def permission_lookup() -> None:
            backend.get_all_permissions(next(perm_users))

        samples = {
            "session create": timed(create, args.runs),
            "session lookup (per-request validation)": timed(lookup, args.runs),
            "role assign": timed(assign, args.runs),
            "role lookup": timed(role_lookup, args.runs),
            "permission lookup": timed(permission_lookup, args.runs),
        }
        Session.objects.all().delete()
    tenant_context.clear()

    ok, login_times = concurrent_logins(args.logins, args.workers)
    rows = {label: summary(values) for label, values in samples.items()}
    if login_times:
        rows[f"sign-in POST, {args.logins} at once"] = summary(login_times)
    goals = {
        "session create": 5.0,
        "session lookup (per-request validation)": 1.0,
        "role assign": 5.0,
        "role lookup": 1.0,
    }
    extra = {
        "users_in_company": user_count,
        "build_users_seconds": build_seconds,
        "concurrent_logins": f"{ok}/{args.logins} succeeded",
        "gunicorn_workers": args.workers,
        "goals_p99_ms": goals,
        "goals_met": all(rows[k]["p99_ms"] <= v for k, v in goals.items()) and ok == args.logins,
    }
    report("sysauth", rows, extra)
    sys.exit(0 if extra["goals_met"] else 1)


if __name__ == "__main__":
    main()
