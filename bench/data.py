"""Build a named scale of data in its own database, quickly, and print how long it took.

Scales (``SCALES`` below):

* ``small`` - 50 companies x 100 users: the CI smoke test;
* ``medium`` - 20 companies and 200,000 users, two of 50,000: big companies
  without a thousand schemas (what a Citus cluster on one machine builds in
  minutes, where ``large`` fills its pool by migrations for most of an hour);
* ``large`` - 1,000 companies and 1,000,000 users with a skewed distribution
  (five companies of 50,000 users, the rest falling off like 1/rank), custom
  roles with permissions, role assignments, 5,000,000 permission-history rows
  over the last year, sessions (a third active), and 12 monthly partitions of
  e-mail verification tokens with their applications.

Companies are made the way the product makes them: the warm schema pool is
filled (``--jobs`` processes side by side) and each company is provisioned on
the fast path (``tenants.provisioning.provision_company``: pool schema, row
security re-applied and verified, grants, company, domain, first
administrator). The bulk rows are then written set-based as the owner, one
transaction per company (``INSERT ... SELECT generate_series``, one
precomputed password hash). The history trigger is disabled for the bulk
load only, so that history rows carry dates spread over the year instead of
the load's minute. It is switched off and on again in transactions of their
own, before and after the company's load: Citus refuses an ``ALTER TABLE``
on a shard that still has trigger events pending from the same transaction
(the foreign keys' deferred checks, which ``SET CONSTRAINTS`` on the
coordinator does not reach), and the switch is the owner's DDL, so the
runtime role has no way to turn the trigger off.

The database is ``qiro_bench_<scale>`` (or ``QIRO_BENCH_DATABASE``) on the
configured server (the embedded one when ``DATABASE_URL`` is unset), with its
own runtime roles. An existing,
complete build is reused unless ``--rebuild``; the build's summary is kept as
the database's comment, which ``bench/queries.py`` and ``bench/http.py`` read.

    .venv/bin/python bench/data.py small
    .venv/bin/python bench/data.py large --jobs 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
from scales import (  # noqa: F401 (the benches read these as data.*)
    PASSWORD,
    SCALES,
    Scale,
    admin_email,
    brn,
    counts,
    host_of,
    psycopg_connect,
    read_marker,
    scale_arguments,
    schema_of,
    user_email,
    write_marker,
)

# --- the build ---------------------------------------------------------------------


def _fill_pool(size: int) -> int:
    """Worker process: build ``size`` more pool schemas."""
    from django.db import connections

    from tenants import schema_pool

    connections.close_all()
    with connections["owner"].cursor() as cursor:
        have = len(schema_pool.pool_schemas(cursor, current_only=True))
    return len(schema_pool.fill_schema_pool(size=have + size))


def fill_pool(needed: int, jobs: int) -> None:
    from django.db import connections

    from tenants import schema_pool

    with connections["owner"].cursor() as cursor:
        have = len(schema_pool.pool_schemas(cursor, current_only=True))
    missing = needed - have
    if missing <= 0:
        return
    connections.close_all()
    shares = [missing // jobs + (1 if j < missing % jobs else 0) for j in range(jobs)]
    with ProcessPoolExecutor(max_workers=jobs) as executor:  # forked: Django is set up
        list(executor.map(_fill_pool, [s for s in shares if s]))
    schema_pool.fill_schema_pool(size=needed)  # tops up whatever a worker missed


def provision(count: int, password_hash: str, progress: Callable[[int], None]) -> None:
    from tenants.models import Company
    from tenants.provisioning import FirstAdministrator, provision_company

    existing = set(Company.objects.using("owner").values_list("schema_name", flat=True))
    for index in range(1, count + 1):
        if schema_of(index) not in existing:
            provision_company(
                name=f"벤치 회사 {index:04d}",
                business_registration_number=brn(index),
                schema_name=schema_of(index),
                domain=host_of(index),
                first_admin=FirstAdministrator(
                    email=admin_email(index), full_name="관리자", password_hash=password_hash
                ),
            )
        progress(index)


PERMISSIONS = [
    "sysauth.view_user", "sysauth.add_user", "sysauth.change_user", "sysauth.view_role",
    "sysauth.change_role", "sysauth.view_session", "sysauth.change_session",
    "sysauth.view_rolepermissionhistory",
]  # fmt: skip


def load_company(
    cursor: Any, *, company_id: int, index: int, users: int, history: int, sessions: int,
    password_hash: str,
) -> None:  # fmt: skip
    """Write one company's bulk rows (its schema is the owner connection's search path)."""
    custom_roles = 5 + users // 2_000
    domain = f"bench-c{index:04d}.example.kr"
    cursor.execute(
        """
        INSERT INTO sysauth_user (company_id, password, email, full_name, user_type,
            is_active, is_staff, is_superuser, date_joined)
        SELECT %(company)s, %(hash)s, 'user' || g || '@' || %(domain)s, '사용자 ' || g,
            CASE WHEN g %% 50 = 0 THEN 'admin' ELSE 'member' END::user_type,
            g %% 33 <> 0, g %% 50 = 0, false,
            now() - (g %% 730) * interval '1 day' - (g %% 86400) * interval '1 second'
        FROM generate_series(1, %(users)s) AS g
        """,
        {"company": company_id, "hash": password_hash, "domain": domain, "users": users},
    )
    cursor.execute(
        """
        INSERT INTO sysauth_role (company_id, name, label, description, created_at)
        SELECT %(company)s, 'team-' || g, '팀 ' || g, '', now() - interval '400 days'
        FROM generate_series(1, %(roles)s) AS g
        """,
        {"company": company_id, "roles": custom_roles},
    )
    cursor.execute(
        """
        INSERT INTO sysauth_rolepermission (company_id, role_id, codename)
        SELECT %(company)s, r.id, p.codename
        FROM sysauth_role r
        CROSS JOIN unnest(%(perms)s::text[]) WITH ORDINALITY AS p(codename, n)
        WHERE r.name LIKE 'team-%%' AND (r.id + p.n) %% 3 <> 0
        """,
        {"company": company_id, "perms": PERMISSIONS},
    )
    # Everyone is a member or an administrator; one in five is also on a team.
    cursor.execute(
        """
        INSERT INTO sysauth_userrole (company_id, user_id, role_id, assigned_at)
        SELECT %(company)s, u.id, r.id, u.date_joined
        FROM sysauth_user u
        JOIN sysauth_role r ON r.name = u.user_type::text
        WHERE u.email LIKE 'user%%'
        UNION ALL
        SELECT %(company)s, u.id, t.ids[1 + u.id %% cardinality(t.ids)], u.date_joined
        FROM sysauth_user u,
             (SELECT array_agg(id ORDER BY id) AS ids FROM sysauth_role
              WHERE name LIKE 'team-%%') AS t
        WHERE u.email LIKE 'user%%' AND u.id %% 5 = 0
        """,
        {"company": company_id},
    )
    # The year's permission history: who changed which role of whom, and when.
    cursor.execute(
        """
        WITH ids AS (
            SELECT (SELECT array_agg(id ORDER BY id) FROM sysauth_role) AS roles,
                   (SELECT array_agg(id ORDER BY id) FROM sysauth_user) AS users,
                   (SELECT array_agg(id ORDER BY id) FROM sysauth_user
                    WHERE user_type <> 'member') AS admins
        )
        INSERT INTO sysauth_rolepermissionhistory (company_id, operation, table_name, role_id,
            user_id, permission, old_values, new_values, actor_id, changed_at)
        SELECT %(company)s,
            (ARRAY['INSERT', 'INSERT', 'DELETE', 'UPDATE'])[1 + g %% 4],
            CASE WHEN g %% 4 = 0 THEN 'sysauth_rolepermission' ELSE 'sysauth_userrole' END,
            ids.roles[1 + g %% cardinality(ids.roles)],
            CASE WHEN g %% 4 <> 0
                 THEN ids.users[1 + (g::bigint * 7919) %% cardinality(ids.users)] END,
            CASE WHEN g %% 4 = 0 THEN (%(perms)s::text[])[1 + g %% 8] ELSE '' END,
            NULL, jsonb_build_object('n', g),
            ids.admins[1 + g %% cardinality(ids.admins)],
            now() - ((g::bigint * 104729) %% 31536000) * interval '1 second'
        FROM ids, generate_series(1, %(history)s) AS g
        """,
        {"company": company_id, "history": history, "perms": PERMISSIONS},
    )
    # Sessions: a third active within the last two weeks, the rest ended.
    cursor.execute(
        """
        WITH ids AS (SELECT array_agg(id ORDER BY id) AS users FROM sysauth_user)
        INSERT INTO sysauth_session (company_id, key_hash, session_data, user_id, ip_address,
            user_agent, created_at, last_seen_at, expires_at, status, ended_at, revoked_reason)
        SELECT %(company)s,
            encode(sha256(convert_to(%(schema)s || ':' || g, 'UTF8')), 'hex'), '',
            ids.users[1 + (g::bigint * 104723) %% cardinality(ids.users)],
            ('10.' || (g %% 250) || '.' || (g / 250 %% 250) || '.1')::inet,
            'Mozilla/5.0 (bench) ' || (g %% 7),
            s.started, s.started + interval '1 hour', s.started + interval '14 days',
            CASE WHEN g %% 3 = 0 THEN 'active' WHEN g %% 3 = 1 THEN 'logged_out'
                 ELSE 'expired' END::session_status,
            CASE WHEN g %% 3 <> 0 THEN s.started + interval '2 hours' END, ''
        FROM ids, generate_series(1, %(sessions)s) AS g,
        LATERAL (SELECT now() - CASE WHEN g %% 3 = 0 THEN (g %% 1209600) * interval '1 second'
                                     ELSE (g %% 31536000) * interval '1 second' + interval '14 days'
                                END AS started) AS s
        """,
        {"company": company_id, "schema": schema_of(index), "sessions": sessions},
    )


HISTORY_TRIGGER_TABLES = ("sysauth_userrole", "sysauth_rolepermission")


def switch_history_trigger(schema: str, *, enabled: bool) -> None:
    """The history trigger of ``schema``'s tables on or off, in a transaction of its own."""
    from django.db import connections, transaction
    from psycopg import sql

    action = sql.SQL("ENABLE" if enabled else "DISABLE")
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        for table in HISTORY_TRIGGER_TABLES:
            cursor.execute(
                sql.SQL("ALTER TABLE {} {} TRIGGER record_role_permissions_change").format(
                    sql.Identifier(schema, table), action
                )
            )


def load_tokens(scale: Scale) -> None:
    """Applications over the last ``token_months`` months, two tokens each, in their partitions."""
    from django.db import connections
    from django.utils import timezone

    from registration.partitions import maintain_token_partitions, month_start

    first = month_start(timezone.now().astimezone(dt.UTC).date(), -(scale.token_months - 1))
    maintain_token_partitions(
        months_ahead=scale.token_months, retention_months=scale.token_months + 12, today=first
    )
    applications = scale.token_months * scale.tokens_per_month // 2
    # Submissions spread from the first partition's start until a few hours ago.
    oldest = dt.datetime(first.year, first.month, 1, tzinfo=dt.UTC)
    seconds = int((timezone.now() - oldest).total_seconds()) - 4 * 3600
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO registration_application (id, company_name, business_registration_number,
                representative_name, business_type, address, contact_email, phone, subdomain,
                admin_full_name, admin_email, admin_password_hash, language, terms_accepted_at,
                status, brn_status, brn_checked_by, submitted_at, rejection_reason)
            SELECT gen_random_uuid(), '신청 회사 ' || g, lpad((7000000000 + g)::text, 10, '0'),
                '대표 ' || g, '서비스업', '서울', 'apply' || g || '@bench.example.kr',
                '010-0000-0000', 'apply-' || g, '관리자', 'apply' || g || '@bench.example.kr',
                '', 'ko', t.at, 'rejected', 'pending', '', t.at, '벤치'
            FROM generate_series(1, %(n)s) AS g,
            LATERAL (SELECT now() - ((g::bigint * 7919) %% %(seconds)s) * interval '1 second'
                     AS at) AS t
            """,
            {"n": applications, "seconds": seconds},
        )
        cursor.execute(
            """
            INSERT INTO registration_emailverificationtoken (id, created_at, application_id,
                token_hash, expires_at, used_at, status)
            SELECT gen_random_uuid(), a.submitted_at + k * interval '1 hour', a.id,
                encode(sha256(convert_to(a.id::text || k, 'UTF8')), 'hex'),
                a.submitted_at + k * interval '1 hour' + interval '24 hours',
                NULL, CASE WHEN k = 0 THEN 'expired' ELSE 'verified' END::verification_status
            FROM registration_application a, generate_series(0, 1) AS k
            WHERE a.subdomain LIKE 'apply-%%'
            """
        )


def build(name: str, scale: Scale, jobs: int) -> dict[str, Any]:
    from django.contrib.auth.hashers import make_password
    from django.db import connections, transaction

    from tenants.models import Company
    from tenants.services import refresh_company_stats

    figures: dict[str, Any] = {}
    started = time.perf_counter()

    def lap(step: str, since: float) -> float:
        now = time.perf_counter()
        figures[f"{step}_s"] = round(now - since, 1)
        print(f"  {step}: {now - since:.1f} s", flush=True)
        return now

    clock = started
    password_hash = make_password(PASSWORD)
    fill_pool(scale.companies - Company.objects.using("owner").filter(
        schema_name__startswith="bench_c").count(), jobs)  # fmt: skip
    clock = lap("schema pool", clock)

    def progress(index: int) -> None:
        if index % 100 == 0 or index == scale.companies:
            print(f"    provisioned {index}/{scale.companies}", flush=True)

    provision(scale.companies, password_hash, progress)
    clock = lap("provisioning (fast path)", clock)

    counts = scale.user_counts()
    bulk_users = [n - 1 for n in counts]  # the first administrator is already there
    companies = dict(
        Company.objects.using("owner").filter(schema_name__startswith="bench_c")
        .values_list("schema_name", "id")
    )  # fmt: skip
    owner = connections["owner"]
    for index, users in enumerate(bulk_users, 1):
        history = scale.history * (users + 1) // scale.users
        sessions = int((users + 1) * scale.sessions_per_user)
        owner.set_schema(schema_of(index))  # type: ignore[attr-defined]
        with owner.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM sysauth_user")
            if cursor.fetchone()[0] > 1:
                continue  # loaded by an earlier, interrupted build
        switch_history_trigger(schema_of(index), enabled=False)
        try:
            with transaction.atomic(using="owner"), owner.cursor() as cursor:
                load_company(
                    cursor, company_id=companies[schema_of(index)], index=index, users=users,
                    history=history, sessions=sessions, password_hash=password_hash,
                )  # fmt: skip
        finally:
            switch_history_trigger(schema_of(index), enabled=True)
        if index % 100 == 0 or index == len(bulk_users):
            print(f"    loaded {index}/{len(bulk_users)}", flush=True)
    owner.set_schema_to_public()  # type: ignore[attr-defined]
    clock = lap("users, roles, history, sessions", clock)

    load_tokens(scale)
    clock = lap("applications and tokens", clock)

    refresh_company_stats()
    owner.close()
    with psycopg_connect() as conn:
        conn.execute("VACUUM (ANALYZE)")
    clock = lap("kept figures, vacuum and analyze", clock)
    figures["total_s"] = round(time.perf_counter() - started, 1)
    return figures


def ensure_scale(name: str, *, rebuild: bool = False, jobs: int = 2) -> dict[str, Any]:
    """Point this process at the scale's database, building it first if needed."""
    scale = SCALES[name]
    _common.use_database(os.environ.get("QIRO_BENCH_DATABASE", f"qiro_bench_{name}"))
    _common.create_database(os.environ["DATABASE_URL"], drop=rebuild)
    marker = read_marker()
    if marker and marker.get("scale") == asdict(scale):
        _common.setup_django()
        return marker
    print(f"building scale {name!r} in {os.environ['DATABASE_URL'].split('?')[0]}", flush=True)
    clock = time.perf_counter()
    _common.setup_django()
    figures = {"bootstrap_s": round(time.perf_counter() - clock, 1)}
    figures |= build(name, scale, jobs)
    summary = {"name": name, "scale": asdict(scale), "build": figures, "rows": counts()}
    write_marker(summary)
    _common.write_json(f"data-{name}", summary)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scale", choices=sorted(SCALES))
    parser.add_argument("--rebuild", action="store_true", help="drop the database and build anew")
    parser.add_argument("--jobs", type=int, default=2, help="processes filling the schema pool")
    args = parser.parse_args()
    summary = ensure_scale(args.scale, rebuild=args.rebuild, jobs=args.jobs)
    for key, value in summary["build"].items():
        print(f"build {key}: {value}")
    for key, value in summary["rows"].items():
        print(f"rows {key}: {value:,}")


if __name__ == "__main__":
    main()
