"""What the company-only constraint (``qiro_company_only``) costs on inserts.

Two companies made the same way (``create_company_with_migrations``); the
constraint is then dropped from every company-keyed table of the second one,
so the two differ only by it. Side by side in one run, interleaved in blocks
(the order of the two sides alternating per block) so that machine noise hits
both alike, as the runtime role in each company's context, each statement its
own transaction as in a request:

* user insert        - one ``INSERT`` into ``sysauth_user`` (``RETURNING id``);
* role assignment    - one ``INSERT`` into ``sysauth_userrole`` (with the history trigger);
* bulk user insert   - ``--bulk`` users in one ``INSERT … SELECT`` (per statement);
* the CHECK alone    - ``--raw-rows`` rows into two bare temporary tables, one with
  the same CHECK, as the owner (no row security, no index): its cost per row.

Both companies are removed at the end.

    .venv/bin/python -m qiro.embedded exec -- .venv/bin/python bench/company_constraint.py \
        [--runs 4000] [--block 200] [--bulk 10000] [--bulk-runs 10] [--raw-rows 200000]
"""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Any

from _common import report, setup_django, summary

SIDES = {"with": "bench_cc_with", "without": "bench_cc_without"}
USER_INSERT = (
    "INSERT INTO sysauth_user (password, email, full_name, user_type, is_active, is_staff, "
    "is_superuser, date_joined) VALUES ('!', %s, 'bench', 'member', true, false, false, now()) "
    "RETURNING id"
)
ASSIGN = "INSERT INTO sysauth_userrole (user_id, role_id, assigned_at) VALUES (%s, %s, now())"
BULK = (
    "INSERT INTO sysauth_user (password, email, full_name, user_type, is_active, is_staff, "
    "is_superuser, date_joined) SELECT '!', %s || g || '@bulk.example', 'bench', 'member', "
    "true, false, false, now() FROM generate_series(1, %s) AS g"
)


def make_companies() -> dict[str, Any]:
    from django.db import connections
    from psycopg import sql

    from qiro.db.secure import COMPANY_ONLY_CONSTRAINT, company_keyed_tables
    from tenants.models import Company
    from tenants.schema_pool import drop_schema
    from tenants.services import create_company_with_migrations

    companies = {}
    for n, (side, schema) in enumerate(SIDES.items()):
        Company.objects.using("owner").filter(schema_name=schema).delete()
        drop_schema(schema)
        companies[side] = create_company_with_migrations(
            name=f"Bench constraint {side}", business_registration_number=f"999999990{n}",
            schema_name=schema, domain=f"{schema.replace('_', '-')}.localhost",
        )  # fmt: skip
    with connections["owner"].cursor() as cursor:
        for table in company_keyed_tables():
            cursor.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(SIDES["without"], table),
                    sql.Identifier(COMPANY_ONLY_CONSTRAINT),
                )
            )
    return companies


def remove_companies() -> None:
    from tenants.models import Company
    from tenants.schema_pool import drop_schema

    for schema in SIDES.values():
        Company.objects.using("owner").filter(schema_name=schema).delete()
        drop_schema(schema)


def bare_tables(rows: int, runs: int) -> dict[str, list[float]]:
    """Milliseconds per ``INSERT … SELECT`` of ``rows``, bare tables with / without the CHECK."""
    from django.db import connections
    from psycopg import sql

    samples: dict[str, list[float]] = {"with": [], "without": []}
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_cc_bare_with (company_id bigint, "
            "CONSTRAINT qiro_company_only CHECK (company_id = '5'::bigint))"
        )
        cursor.execute("CREATE TEMPORARY TABLE bench_cc_bare_without (company_id bigint)")
        for n in range(runs):
            for side in ("with", "without") if n % 2 else ("without", "with"):
                start = time.perf_counter()
                cursor.execute(
                    sql.SQL("INSERT INTO {} SELECT 5 FROM generate_series(1, %s)").format(
                        sql.Identifier(f"bench_cc_bare_{side}")
                    ),
                    [rows],
                )
                samples[side].append((time.perf_counter() - start) * 1000)
        cursor.execute("DROP TABLE bench_cc_bare_with, bench_cc_bare_without")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=4000, help="single inserts per side")
    parser.add_argument("--block", type=int, default=200, help="runs per side per block")
    parser.add_argument("--bulk", type=int, default=10_000, help="users per bulk insert")
    parser.add_argument("--bulk-runs", type=int, default=10)
    parser.add_argument("--raw-rows", type=int, default=200_000)
    args = parser.parse_args()
    setup_django()

    from django.db import connections

    from qiro import tenant_context
    from sysauth import actions
    from sysauth.models import Role

    companies = make_companies()
    roles = {}
    for side, company in companies.items():
        with tenant_context.company_context(company):
            roles[side] = actions.ensure_default_roles(acting_user=None)[Role.MEMBER].pk
    samples: dict[str, dict[str, list[float]]] = {
        kind: {side: [] for side in SIDES} for kind in ("user", "assign", "bulk")
    }
    users: dict[str, list[int]] = {side: [] for side in SIDES}
    emails = itertools.count()
    cursor_of = connections["default"].cursor

    def run(side: str, kind: str, statement: str, params: list[Any]) -> Any:
        with tenant_context.company_context(companies[side]), cursor_of() as cursor:
            start = time.perf_counter()
            cursor.execute(statement, params)
            row = cursor.fetchone() if cursor.description else None
            samples[kind][side].append((time.perf_counter() - start) * 1000)
        return row

    try:
        orders = itertools.cycle([("with", "without"), ("without", "with")])
        for _block in range(max(1, args.runs // args.block)):
            for side in next(orders):
                for _ in range(args.block):
                    row = run(side, "user", USER_INSERT, [f"u{next(emails)}@bench.example"])
                    users[side].append(row[0])
            for side in next(orders):
                for pk in users[side][-args.block :]:
                    run(side, "assign", ASSIGN, [pk, roles[side]])
        for n in range(args.bulk_runs):
            for side in next(orders):
                run(side, "bulk", BULK, [f"b{n}-", args.bulk])
    finally:
        remove_companies()
    samples["bare"] = bare_tables(args.raw_rows, args.bulk_runs)

    labels = {
        "user": "user insert",
        "assign": "role assignment",
        "bulk": f"bulk insert of {args.bulk:,} users",
        "bare": f"{args.raw_rows:,} rows into a bare table",
    }
    rows = {
        f"{labels[kind]}, {side} constraint": summary(samples[kind][side])
        for kind in labels
        for side in SIDES
    }
    overhead = {
        labels[kind]: round(
            rows[f"{labels[kind]}, with constraint"]["p50_ms"]
            / rows[f"{labels[kind]}, without constraint"]["p50_ms"],
            3,
        )
        for kind in labels
    }
    bare = {side: rows[f"{labels['bare']}, {side} constraint"]["p50_ms"] for side in SIDES}
    per_row_us = round((bare["with"] - bare["without"]) * 1000 / args.raw_rows, 3)
    report(
        "company_constraint",
        rows,
        {"p50 ratio with / without": overhead, "CHECK cost per row, microseconds": per_row_us},
    )


if __name__ == "__main__":
    main()
