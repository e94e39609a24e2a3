"""Pages over HTTP at a named scale: gunicorn serving the app as in production.

gunicorn (``--workers``, ``DJANGO_DEBUG=false``, behind a pretend TLS proxy)
is started here on a free 127.0.0.1 port against the scale's database, and:

* page times, one client on a kept-alive connection, ``--runs`` each: every
  admin list page that grows with the data. The platform admin's company list
  (every company, 100 a page, with kept user counts), its applications, audit
  log and operations; the largest company's user list (first page and a deep
  page), sessions, roles, role assignments, permission history, audit log and
  API tokens; and a user's own sessions page;
* ``--browsers`` signed-in administrators browsing at once: each walks the
  company admin's lists (users, sessions, roles, history) ``--rounds`` times;
  success rate, p50/p99 per page and pages per second;
* ``--logins`` sign-ins at once (POST /accounts/login/, Argon2): success
  rate and p50/p99.

    .venv/bin/python bench/http_load.py large [--runs 200] [--browsers 50] [--logins 100]
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import data

PLATFORM_HOST = "localhost"
PLATFORM_ADMIN = "platform-admin@bench.example.kr"


class Browser:
    """One user agent: a kept-alive connection, cookies, CSRF, as behind a TLS proxy."""

    def __init__(self, port: int, host: str):
        self.port = port
        self.host = host
        self.cookies: dict[str, str] = {}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, float]:
        headers = {
            "Host": self.host,
            "X-Forwarded-Proto": "https",
            "Referer": f"https://{self.host}{path}",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        began = time.perf_counter()
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                text = response.read().decode()
                break
            except (http.client.HTTPException, OSError):
                # gunicorn closed the kept-alive connection: once more on a new one
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise
        elapsed = (time.perf_counter() - began) * 1000
        jar: SimpleCookie = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        self.cookies.update({k: v.value for k, v in jar.items()})
        return response.status, text, elapsed

    def get(self, path: str) -> tuple[int, str, float]:
        return self.request("GET", path)

    def sign_in(self, path: str, email: str, password: str) -> tuple[bool, float]:
        """GET the form, POST the credentials; (signed in, milliseconds of the POST)."""
        status, body, _ = self.get(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        form = {"username": email, "password": password}
        form["csrfmiddlewaretoken"] = token.group(1) if token else ""
        status, _, elapsed = self.request("POST", path, urlencode(form))
        return status == 302 and "sessionid" in self.cookies, elapsed

    def close(self) -> None:
        self.connection.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def production_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-" + "x" * 50),
        "DJANGO_SECURE_SSL_REDIRECT": "false",
    }


def start_gunicorn(port: int, workers: int) -> subprocess.Popen[bytes]:
    env = production_env()
    # The manifest of hashed static files that production settings serve from.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=_common.ROOT, env=env, check=True,
    )  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        [
            sys.executable, "-m", "gunicorn", "qiro.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--timeout", "120", "--backlog", "512", "--keep-alive", "30",
            "--log-level", "warning",
        ],
        cwd=_common.ROOT,
        env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/", headers={"Host": PLATFORM_HOST})
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start")


def prepare() -> tuple[Any, str]:
    """The largest company and its host; a platform administrator."""
    from django.contrib.auth.hashers import make_password

    from qiro import tenant_context
    from sysauth.models import User
    from tenants.models import Company

    with tenant_context.owner_context():
        if not User.objects.filter(email=PLATFORM_ADMIN).exists():
            User.objects.create(
                email=PLATFORM_ADMIN, password=make_password(data.PASSWORD), is_staff=True,
                is_superuser=True, user_type="owner",
            )  # fmt: skip
        company = (
            Company.objects.filter(schema_name__startswith="bench_c")
            .order_by("-user_count", "schema_name")
            .first()
        )
        assert company is not None, "no bench companies: run bench/data.py first"
        domain = company.domains.get(is_primary=True).domain
    return company, domain


def page_times(
    port: int, host: str, login_path: str, email: str, pages: dict[str, tuple[str, str]],
    runs: int,
) -> dict[str, list[float]]:  # fmt: skip
    """Each page ``runs`` times by one signed-in browser; each answer checked."""
    browser = Browser(port, host)
    ok, _ = browser.sign_in(login_path, email, data.PASSWORD)
    assert ok, f"{email} could not sign in at {host}"
    samples: dict[str, list[float]] = {label: [] for label in pages}
    try:
        for _ in range(runs):
            for label, (path, marker) in pages.items():
                status, body, elapsed = browser.get(path)
                assert status == 200, (label, status, body[:300])
                assert marker in body, (label, body[:300])
                samples[label].append(elapsed)
    finally:
        browser.close()
    return samples


# What every admin list page holds, with rows or without.
LIST = 'id="changelist"'

COMPANY_PAGES = {
    "company admin: users": "/admin/sysauth/user/",
    "company admin: sessions": "/admin/sysauth/session/",
    "company admin: roles": "/admin/sysauth/role/",
    "company admin: history": "/admin/sysauth/rolepermissionhistory/",
}


def browsing(port: int, host: str, admins: list[str], rounds: int) -> dict[str, Any]:
    """Every admin signs in, then all walk the company admin's lists at once."""
    results: dict[str, list[float]] = {label: [] for label in COMPANY_PAGES}
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(admins))
    span: list[float] = []

    def one(email: str) -> None:
        browser = Browser(port, host)
        mine: dict[str, list[float]] = {label: [] for label in COMPANY_PAGES}
        try:
            ok, _ = browser.sign_in("/accounts/login/", email, data.PASSWORD)
            barrier.wait()
            began = time.perf_counter()
            if not ok:
                raise RuntimeError(f"{email}: sign-in refused")
            for _ in range(rounds):
                for label, path in COMPANY_PAGES.items():
                    status, _, elapsed = browser.get(path)
                    if status != 200:
                        raise RuntimeError(f"{email} {path}: HTTP {status}")
                    mine[label].append(elapsed)
            with lock:
                span.append(time.perf_counter() - began)
                for label, values in mine.items():
                    results[label].extend(values)
        except Exception as error:  # counted, not raised: the success rate is the figure
            if not barrier.broken:
                barrier.abort()
            with lock:
                failures.append(str(error))
        finally:
            browser.close()

    threads = [threading.Thread(target=one, args=(email,)) for email in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pages = sum(len(v) for v in results.values())
    return {
        "samples": results,
        "succeeded": len(admins) - len(failures),
        "failures": failures[:5],
        "pages_per_second": round(pages / max(span), 1) if span else 0.0,
    }


def logins(port: int, host: str, emails: list[str]) -> tuple[int, list[float]]:
    """Every browser fetches the form, waits for the others, then all POST at once."""
    results: list[tuple[bool, float]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(emails))

    def one(email: str) -> None:
        browser = Browser(port, host)
        try:
            status, body, _ = browser.get("/accounts/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
            form = {"username": email, "password": data.PASSWORD}
            form["csrfmiddlewaretoken"] = token.group(1) if token else ""
            barrier.wait()
            status, _, elapsed = browser.request("POST", "/accounts/login/", urlencode(form))
            outcome = (status == 302 and "sessionid" in browser.cookies, elapsed)
        except Exception:  # a refused or dropped connection is a failed sign-in
            outcome = (False, float("nan"))
        finally:
            browser.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=one, args=(email,)) for email in emails]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(ok for ok, _ in results), [t for ok, t in results if ok]


def run(scale: str, runs: int, browsers: int, rounds: int, login_count: int, workers: int) -> int:
    from qiro import tenant_context
    from sysauth.models import Session, User

    company, host = prepare()
    index = int(company.schema_name.removeprefix("bench_c"))
    with tenant_context.company_context(company):
        admins = list(
            User.objects.filter(is_active=True, is_staff=True, email__startswith="user")
            .order_by("pk")
            .values_list("email", flat=True)[:browsers]
        )
        members = list(
            User.objects.filter(is_active=True, is_staff=False, email__startswith="user")
            .order_by("pk")
            .values_list("email", flat=True)[:login_count]
        )
    print(f"company: {company.schema_name} at {host}, {company.user_count:,} active users")
    middle = max(1, company.user_count // 200)  # the admin shows 100 users a page
    port = free_port()
    process = start_gunicorn(port, workers)
    try:
        samples = page_times(
            port, PLATFORM_HOST, "/admin/login/", PLATFORM_ADMIN,
            {
                "platform admin: companies": ("/admin/tenants/company/", "벤치 회사"),
                "platform admin: applications": ("/admin/registration/application/", LIST),
                "platform admin: audit log": ("/admin/sysauth/auditentry/", LIST),
                "platform admin: operations": ("/admin/deployments/operation/", LIST),
            },
            runs,
        )  # fmt: skip
        samples |= page_times(
            port, host, "/accounts/login/", data.admin_email(index),
            {
                "company admin: users (page 1)": ("/admin/sysauth/user/", "user1"),
                "company admin: users (middle page)": (f"/admin/sysauth/user/?p={middle}", "@"),
                "company admin: sessions": ("/admin/sysauth/session/", "field-device"),
                "company admin: roles": ("/admin/sysauth/role/", LIST),
                "company admin: role assignments": ("/admin/sysauth/userrole/", LIST),
                "company admin: history": ("/admin/sysauth/rolepermissionhistory/", LIST),
                "company admin: audit log": ("/admin/sysauth/auditentry/", LIST),
                "company admin: API tokens": ("/admin/sysauth/apitoken/", LIST),
                "my sessions": ("/accounts/sessions/", "<table"),
            },
            runs,
        )  # fmt: skip
        print("  measured pages", flush=True)
        crowd = browsing(port, host, admins, rounds)
        print("  measured browsing", flush=True)
        signed_in, login_ms = logins(port, host, members)
        print("  measured sign-ins", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)
        with tenant_context.company_context(company):
            Session.objects.filter(user_agent="").delete()

    rows = {label: _common.summary(values) for label, values in samples.items()}
    for label, values in crowd["samples"].items():
        if values:
            rows[f"{browsers} browsing: {label.removeprefix('company admin: ')}"] = _common.summary(
                values
            )
    if login_ms:
        rows[f"sign-in POST, {len(members)} at once"] = _common.summary(login_ms)
    extra = {
        "scale": scale,
        "company": {"schema": company.schema_name, "active_users": company.user_count},
        "gunicorn_workers": workers,
        "browsing": f"{crowd['succeeded']}/{len(admins)} sessions succeeded, "
        f"{rounds} rounds of {len(COMPANY_PAGES)} pages",
        "browsing_pages_per_second": crowd["pages_per_second"],
        "browsing_failures": crowd["failures"],
        "concurrent_logins": f"{signed_in}/{len(members)} succeeded",
    }
    _common.report(f"http-{scale}", rows, extra)
    ok = crowd["succeeded"] == len(admins) and signed_in == len(members)
    return 0 if ok else 1


def main() -> None:
    parser = data.scale_arguments(__doc__, runs=200, browsers=50, rounds=5, logins=100, workers=4)
    args = parser.parse_args()
    data.ensure_scale(args.scale)
    sys.exit(run(args.scale, args.runs, args.browsers, args.rounds, args.logins, args.workers))


if __name__ == "__main__":
    main()
