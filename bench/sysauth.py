"""Sessions and roles at 10,000 users in one company, and concurrent sign-ins.

Measured as the runtime role in the company's context, each call its own
transaction, as in a request:

* session create  - a signed-in session written (one INSERT);
* session lookup  - the per-request validation: the row by key hash with its
  user's state, status and expiry checked;
* role assign     - ``actions.assign_role`` (duplicate check, INSERT, history trigger);
* role lookup     - ``selectors.roles_of`` for one user;
* permission lookup - the roles' permissions of one user (what ``has_perm`` loads).

Then N concurrent sign-ins (POST /accounts/login/ with Argon2) through
gunicorn, started here on a free 127.0.0.1 port: success rate and p50/p99.

    .venv/bin/python -m qiro.embedded exec -- .venv/bin/python bench/sysauth.py \
        [--users 10000] [--runs 2000] [--logins 100] [--workers 4]
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import http_load
from _common import report, setup_django, summary, timed

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


def concurrent_logins(count: int, workers: int) -> tuple[int, list[float]]:
    """``count`` members sign in at once through gunicorn (``http_load``'s)."""
    port = http_load.free_port()
    process = http_load.start_gunicorn(port, workers)
    try:
        emails = [f"user{n}@bench.example" for n in range(1, count + 1)]
        return http_load.logins(port, HOST, emails)
    finally:
        process.terminate()
        process.wait(timeout=30)


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
    from sysauth import actions, selectors
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
        roles = actions.ensure_default_roles(acting_user=None)
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
            actions.assign_role(user=next(assign_users), role=admin_role, acting_user=None)

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
