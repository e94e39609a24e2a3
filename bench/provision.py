"""Approval-to-usable time: the warm-pool fast path against migrations per schema.

Side by side in one run, over ``--companies`` companies each:

* fast: ``registration.actions.approve_application`` on an application whose
  e-mail is verified — decision, review events, pool schema renamed, row
  security re-applied and verified, grants, company and domain, first
  administrator, activation, e-mail (in memory);
* default: django-tenants' way, ``tenants.services.create_company_with_migrations``
  (a schema built by running every migration) plus the first administrator.

The pool is filled before the fast runs (that is its point: the work is done
ahead, off the approval). Its fill is timed both ways, ``--companies`` schemas
each: by migrations per schema (``fill_schema_pool(clone=False)``, those schemas
are dropped again), then the clone path the pool uses (one template migrated,
or a ready pool schema reused, dumped once, the others cloned from its DDL);
per schema, and per step (one migration build, the dump, one clone). Every
company, schema, application and user made here is removed at the end.

    .venv/bin/python bench/provision.py --companies 20
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

PREFIX = "bench_prov_"


def watch_pool_steps(schema_pool: Any) -> dict[str, list[float]]:
    """Time each call of the pool's steps (milliseconds), by wrapping the module's functions."""
    samples: dict[str, list[float]] = {}

    def timed(fn: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            begin = time.perf_counter()
            result = fn(*args, **kwargs)
            into.append((time.perf_counter() - begin) * 1000)
            return result

        return wrapped

    for step in ("build_schema_with_migrations", "dump_template", "clone_schema"):
        samples[step] = []
        setattr(schema_pool, step, timed(getattr(schema_pool, step), samples[step]))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=20)
    args = parser.parse_args()
    os.environ["DJANGO_EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    _common.setup_django()

    from django.contrib.auth.hashers import make_password
    from django.core import mail
    from django.db import connections

    from qiro import tenant_context
    from registration import actions
    from registration.models import Application
    from sysauth import actions as sysauth_actions
    from sysauth.models import User
    from tenants import schema_pool
    from tenants.models import Company
    from tenants.provisioning import ProvisioningTimings
    from tenants.services import create_company_with_migrations

    mail.outbox = []
    n = args.companies
    password_hash = make_password("bench-password-2026")
    reviewer = User.objects.db_manager("owner").create_user(
        f"{PREFIX}reviewer@bench.example.kr", None, is_staff=True, is_superuser=True
    )
    schemas: list[str] = []
    applications: list[str] = []

    def brn(i: int, kind: int) -> str:
        from tenants.validators import brn_check_digit

        nine = f"9{kind}{i % 10}{(i // 10) % 100 + 1:02d}{i + 1:04d}"
        return nine + str(brn_check_digit(nine))

    try:
        # --- the pool, filled ahead: migrations per schema, then the clone path -------
        fill_steps = watch_pool_steps(schema_pool)
        with connections["owner"].cursor() as cursor:
            have = len(schema_pool.pool_schemas(cursor, current_only=True))
        start = time.perf_counter()
        by_migrations = schema_pool.fill_schema_pool(size=have + n, clone=False)
        fill_migrations_ms = (time.perf_counter() - start) * 1000 / len(by_migrations)
        for schema in by_migrations:
            schema_pool.drop_schema(schema)
        migrated_before = len(fill_steps["build_schema_with_migrations"])
        start = time.perf_counter()
        by_cloning = schema_pool.fill_schema_pool(size=have + n)
        fill_clone_ms = (time.perf_counter() - start) * 1000 / len(by_cloning)
        template = (
            "migrated here"
            if len(fill_steps["build_schema_with_migrations"]) > migrated_before
            else "ready pool schema reused"
        )

        # --- fast path -------------------------------------------------------------
        verified = []
        for i in range(n):
            subdomain = f"{PREFIX}fast-{i}".replace("_", "-")
            app = _common.verified_application(
                i, label="fast", company_name=f"벤치 빠른 회사 {i}", brn=brn(i, 1),
                subdomain=subdomain, password_hash=password_hash,
            )  # fmt: skip
            applications.append(str(app.pk))
            verified.append(app)
            schemas.append(subdomain.replace("-", "_"))
        fast: list[float] = []
        with connections["owner"].cursor() as cursor:
            pool_before = len(schema_pool.pool_schemas(cursor, current_only=True))
        steps: dict[str, list[float]] = {}
        for app in verified:
            timings = ProvisioningTimings()
            begin = time.perf_counter()
            company = actions.approve_application(
                application_id=app.pk, acting_user=reviewer, timings=timings
            )
            fast.append((time.perf_counter() - begin) * 1000)
            for step, ms in timings.steps.items():
                steps.setdefault(step, []).append(ms)
            assert company.status == Company.Status.ACTIVE
            with tenant_context.company_context(company):
                assert User.objects.filter(user_type="owner").exists()
        with connections["owner"].cursor() as cursor:
            from_pool = pool_before - len(schema_pool.pool_schemas(cursor, current_only=True))

        # --- django-tenants' default: migrations per schema ----------------------------
        default: list[float] = []
        for i in range(n):
            schema = f"{PREFIX}slow_{i}"
            schemas.append(schema)
            begin = time.perf_counter()
            company = create_company_with_migrations(
                name=f"벤치 느린 회사 {i}", business_registration_number=brn(i, 2),
                schema_name=schema, domain=f"{schema.replace('_', '-')}.localhost",
            )  # fmt: skip
            with tenant_context.company_context(company):
                sysauth_actions.create_first_administrator(
                    email=f"slow{i}@bench.example.kr",
                    full_name="관리자",
                    password_hash=password_hash,
                )
            default.append((time.perf_counter() - begin) * 1000)
    finally:
        with tenant_context.owner_context():
            Company.objects.filter(schema_name__in=schemas).delete()
            Application.objects.filter(pk__in=applications).delete()
            for schema in schemas:
                schema_pool.drop_schema(schema)
            User.objects.filter(pk=reviewer.pk).delete()

    rows = {
        **{
            f"pool fill step: {label}": _common.summary(fill_steps[step])
            for step, label in (
                ("build_schema_with_migrations", "one schema by migrations"),
                ("dump_template", "pg_dump of the template (once per fill)"),
                ("clone_schema", "one schema cloned (DDL, records, grants: 1 tx)"),
            )
            if fill_steps[step]
        },
        "fast path (warm pool) approval-to-usable": _common.summary(fast),
        **{f"  of which: {step}": _common.summary(ms) for step, ms in steps.items()},
        "default (migrations per schema)": _common.summary(default),
    }
    speedup = (
        rows["default (migrations per schema)"]["p50_ms"]
        / rows["fast path (warm pool) approval-to-usable"]["p50_ms"]
    )
    _common.report(
        "provision",
        rows,
        {
            "companies_each": n,
            "p50_speedup": round(speedup, 1),
            "fast_path_schemas_taken_from_pool": from_pool,
            "pool_fill_ms_per_schema_by_migrations": round(fill_migrations_ms, 1),
            "pool_fill_ms_per_schema_by_cloning": round(fill_clone_ms, 1),
            "pool_fill_speedup": round(fill_migrations_ms / fill_clone_ms, 1),
            "pool_fill_schemas_cloned": len(fill_steps["clone_schema"]),
            "pool_fill_clone_template": template,
        },
    )


if __name__ == "__main__":
    main()
