"""The reference queries at a named scale, and what row-level security costs them.

Each query is the ORM query the app runs, on the company with the most users:

* ``platform: companies``  - every company with its kept user count, status and
  size, ordered by name, as the platform role (the platform admin's list);
* ``company: users+roles`` - the first page (100) of the company's users by
  e-mail with the names of their roles (``sysauth.selectors.users_with_roles``),
  as the runtime role under the company's context;
* ``company: user count``  - the count the admin's paginator asks for;
* ``company: 30d history`` - the newest page (100) of the last 30 days of
  permission history joined with user, role, actor and the role's permissions
  (``sysauth.selectors.recent_permission_changes``).

For each: p50/p99 of the server's execution time (``EXPLAIN (ANALYZE)``) and of
the wall time through the ORM (rows fetched and turned into objects), over
``--runs`` runs. Each query runs twice per round, side by side: as the runtime
role with row security, and as the owner (``BYPASSRLS``) on the same schema
without it; the ratio of the two p50s is the RLS overhead. ``--plans`` prints
each query's plan under both roles.

    .venv/bin/python bench/queries.py large [--runs 1000] [--plans]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common
import data

# The reference system's figures on tiny data (milliseconds), the goals at `large`.
REFERENCE_MS = {
    "platform: companies": 0.31,
    "company: users+roles": 0.49,
    "company: 30d history": 1.03,
}
RLS_GOAL = 1.10
PAGE = 100


def querysets(alias: str) -> dict[str, Callable[[], Any]]:
    """The queries, as querysets on ``alias`` (built anew each run, as a request would)."""
    from sysauth import selectors
    from sysauth.models import User
    from tenants.models import Company

    def companies() -> Any:
        return (
            Company.objects.using(alias)
            .exclude(schema_name="public")
            .order_by("name")
            .values_list("id", "name", "schema_name", "status", "user_count", "schema_size_bytes")
        )

    return {
        "platform: companies": companies,
        "company: users+roles": lambda: (
            selectors.users_with_roles().using(alias).order_by("email")[:PAGE]
        ),
        # unordered, as QuerySet.count() sends it
        "company: user count": lambda: User.objects.using(alias).order_by(),
        "company: 30d history": lambda: selectors.recent_permission_changes().using(alias)[:PAGE],
    }


def _sql(alias: str, queryset: Any, *, count: bool) -> tuple[str, Any]:
    sql, params = queryset.query.get_compiler(alias).as_sql()
    if count:  # what QuerySet.count() sends for an unsliced, unfiltered list
        sql = "SELECT count(*) FROM (" + sql + ") AS page"
    return sql, params


def execution_ms(alias: str, queryset: Any, *, count: bool = False) -> float:
    """Server-side execution time of the queryset's SQL, from EXPLAIN ANALYZE."""
    from django.db import connections

    sql, params = _sql(alias, queryset, count=count)
    with connections[alias].cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return float(plan[0]["Execution Time"])


def plan_text(alias: str, queryset: Any, *, count: bool = False) -> str:
    from django.db import connections

    sql, params = _sql(alias, queryset, count=count)
    with connections[alias].cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def fetch(queryset: Any, *, count: bool) -> Any:
    """The rows (or the count) as the app gets them: fetched and turned into objects."""
    return queryset.count() if count else list(queryset)


class Side:
    """One way of running the queries: a role, its alias and the context it needs."""

    def __init__(self, label: str, alias: str, enter: Callable[[], AbstractContextManager[Any]]):
        self.label = label
        self.alias = alias
        self.enter = enter


def sides(company: Any) -> dict[str, tuple[Side, Side]]:
    """Per query: (with row security as the runtime role, without as the owner)."""
    from django.db import connections

    from qiro import tenant_context

    def owner_on(schema: str) -> Callable[[], AbstractContextManager[Any]]:
        def enter() -> AbstractContextManager[Any]:
            connections["owner"].set_schema(schema)  # type: ignore[attr-defined]
            return tenant_context.owner_context()

        return enter

    platform = Side("platform role", "platform", tenant_context.platform_context)
    runtime = Side("runtime role", "default", lambda: tenant_context.company_context(company))
    owner_public = Side("owner", "owner", owner_on("public"))
    owner_company = Side("owner", "owner", owner_on(company.schema_name))
    return {
        "platform: companies": (platform, owner_public),
        "company: users+roles": (runtime, owner_company),
        "company: user count": (runtime, owner_company),
        "company: 30d history": (runtime, owner_company),
    }


def check(name: str, rows: Any, company: Any, expected: dict[str, Any]) -> None:
    """What each query returned is right (the smoke test's whole point)."""
    if name == "platform: companies":
        assert len(rows) == expected["companies"], (len(rows), expected)
        assert sum(r[4] for r in rows) >= expected["active_users"], "kept user counts"
    elif name == "company: users+roles":
        assert min(PAGE, company.user_count) <= len(rows) <= PAGE, len(rows)
        assert all(u.company_id == company.pk and u.role_names for u in rows)
        assert [u.email for u in rows] == sorted(u.email for u in rows)
    elif name == "company: user count":
        assert rows >= company.user_count, (rows, company.user_count)
    elif name == "company: 30d history":
        assert 0 < len(rows) <= PAGE
        assert all(h.company_id == company.pk for h in rows)


def run(scale: str, runs: int, show_plans: bool, only: list[str]) -> dict[str, Any]:
    from django.db.models import Sum

    from qiro import tenant_context
    from sysauth.models import User
    from tenants.models import Company

    with tenant_context.owner_context():
        companies = Company.objects.filter(schema_name__startswith="bench_c")
        company = companies.order_by("-user_count", "schema_name").first()
        assert company is not None, "no bench companies: run bench/data.py first"
        expected = {
            "companies": Company.objects.exclude(schema_name="public").count(),
            "active_users": companies.aggregate(n=Sum("user_count"))["n"],
        }
    print(f"company: {company.schema_name}, {company.user_count:,} active users", flush=True)

    plans: dict[str, dict[str, str]] = {}
    samples: dict[str, dict[str, list[float]]] = {}
    pairs = sides(company)
    for name, (with_rls, without) in pairs.items():
        if only and name not in only:
            continue
        count = name == "company: user count"
        build = {side.label: querysets(side.alias)[name] for side in (with_rls, without)}
        for side in (with_rls, without):
            with side.enter():
                check(name, fetch(build[side.label](), count=count), company, expected)
                if show_plans:
                    plans.setdefault(name, {})[side.label] = plan_text(
                        side.alias, build[side.label](), count=count
                    )
        series: dict[str, list[float]] = {
            key: []
            for key in ("exec rls", "exec no-rls", "wall rls", "wall no-rls")
        }  # fmt: skip
        for _ in range(runs):  # interleaved: the machine's noise falls on both alike
            for side, suffix in ((with_rls, "rls"), (without, "no-rls")):
                with side.enter():
                    series[f"exec {suffix}"].append(
                        execution_ms(side.alias, build[side.label](), count=count)
                    )
                    start = time.perf_counter()
                    fetch(build[side.label](), count=count)
                    series[f"wall {suffix}"].append((time.perf_counter() - start) * 1000)
        samples[name] = series
        print(f"  measured {name}", flush=True)

    with tenant_context.company_context(company):
        visible = User.objects.count()
    with tenant_context.owner_context():
        other = companies.exclude(pk=company.pk).order_by("schema_name").first()
    if other is not None:
        with tenant_context.company_context(company):
            leaked = User.objects.filter(company_id=other.pk).count()
        assert leaked == 0, "row security let another company's users through"
    assert visible >= company.user_count

    rows: dict[str, dict[str, float]] = {}
    ratios: dict[str, dict[str, float]] = {}
    for name, series in samples.items():
        for key, values in series.items():
            rows[f"{name} | {key}"] = _common.summary(values)
        ratios[name] = {
            "execution": round(
                rows[f"{name} | exec rls"]["p50_ms"] / rows[f"{name} | exec no-rls"]["p50_ms"], 3
            ),
            "wall": round(
                rows[f"{name} | wall rls"]["p50_ms"] / rows[f"{name} | wall no-rls"]["p50_ms"], 3
            ),
        }
    goals = {
        name: {
            "reference_ms": ref,
            "p50_exec_ms": rows[f"{name} | exec rls"]["p50_ms"],
            "p50_wall_ms": rows[f"{name} | wall rls"]["p50_ms"],
            "met_exec": rows[f"{name} | exec rls"]["p50_ms"] <= ref,
        }
        for name, ref in REFERENCE_MS.items()
        if name in samples
    }
    extra: dict[str, Any] = {
        "scale": scale,
        "company": {"schema": company.schema_name, "active_users": company.user_count},
        "rls_overhead_p50": ratios,
        "rls_goal": RLS_GOAL,
        "goals": goals,
    }
    if show_plans:
        extra["plans"] = plans
    return {"rows": rows, "extra": extra, "plans": plans}


POLICY_TABLES = ("sysauth_user", "sysauth_userrole", "sysauth_role")


# The forms of the isolation policy's right-hand side compared by --policy-forms.
# The first is what ships on plain PostgreSQL, the second what ships on Citus,
# which refuses sub-selects in the policies of its tables.
POLICY_FORMS = {
    "once (InitPlan)": "(SELECT NULLIF(current_setting('qiro.company_id', true), '')::bigint)",
    "per row": "(NULLIF(current_setting('qiro.company_id', true), '')::bigint)",
    "STABLE sql function": "public.bench_company_id_sql()",
    "STABLE plpgsql function": "public.bench_company_id_plpgsql()",
}
FORM_FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION public.bench_company_id_sql() RETURNS bigint LANGUAGE sql "
    "STABLE PARALLEL SAFE AS $$ SELECT NULLIF(current_setting('qiro.company_id', true), '')"
    "::bigint $$",
    "CREATE OR REPLACE FUNCTION public.bench_company_id_plpgsql() RETURNS bigint "
    "LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$ BEGIN RETURN NULLIF(current_setting("
    "'qiro.company_id', true), '')::bigint; END $$",
)


def _set_policy_form(schema: str, form: str) -> None:
    """The isolation policy of the user tables in ``schema``, in one of ``POLICY_FORMS``."""
    from django.db import connections
    from psycopg import sql

    from qiro.rls import ISOLATION_POLICY

    check = sql.SQL("company_id = ") + sql.SQL(POLICY_FORMS[form])  # a constant of our own
    with connections["owner"].cursor() as cursor:
        for table in POLICY_TABLES:
            cursor.execute(
                sql.SQL("ALTER POLICY {} ON {} USING ({}) WITH CHECK ({})").format(
                    sql.Identifier(ISOLATION_POLICY), sql.Identifier(schema, table), check, check
                )
            )


def policy_forms(company: Any, runs: int) -> dict[str, Any]:
    """The policy's setting read in each of ``POLICY_FORMS``, side by side.

    The same two queries as the runtime role, in alternating blocks, with the
    policies of the user tables switched between the forms by the owner; the
    form the server ships is put back at the end.
    """
    from django.db import connections

    from qiro import tenant_context
    from qiro.db.citus import is_citus

    with connections["owner"].cursor() as cursor:
        shipped = "per row" if is_citus(cursor) else "once (InitPlan)"
        for statement in FORM_FUNCTIONS:
            cursor.execute(statement)
        cursor.execute("GRANT EXECUTE ON FUNCTION public.bench_company_id_sql() TO PUBLIC")
        cursor.execute("GRANT EXECUTE ON FUNCTION public.bench_company_id_plpgsql() TO PUBLIC")
    labels = {"company: user count": True, "company: users+roles": False}
    samples: dict[str, list[float]] = {}
    plans: dict[str, str] = {}
    blocks = 10
    try:
        for block in range(blocks * len(POLICY_FORMS)):
            form = list(POLICY_FORMS)[block % len(POLICY_FORMS)]
            _set_policy_form(company.schema_name, form)
            with tenant_context.company_context(company):
                for name, count in labels.items():
                    build = querysets("default")[name]
                    key = f"{name} | policy {form}"
                    if block < len(POLICY_FORMS):
                        plans[key] = plan_text("default", build(), count=count)
                    values = samples.setdefault(key, [])
                    for _ in range(max(1, runs // blocks)):
                        values.append(execution_ms("default", build(), count=count))
    finally:
        _set_policy_form(company.schema_name, shipped)
    rows = {key: _common.summary(values) for key, values in samples.items()}
    ratios = {
        f"{name} | {form}": round(
            rows[f"{name} | policy {form}"]["p50_ms"]
            / rows[f"{name} | policy once (InitPlan)"]["p50_ms"],
            3,
        )
        for name in labels
        for form in POLICY_FORMS
    }
    return {"rows": rows, "over_once_p50": ratios, "plans": plans}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scale", choices=sorted(data.SCALES))
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--plans", action="store_true", help="print every query's plan")
    parser.add_argument("--only", action="append", default=[], help="run only this query")
    parser.add_argument(
        "--policy-forms",
        action="store_true",
        help="also compare the policy's setting read per row with the shipped once-per-statement",
    )
    args = parser.parse_args()
    data.ensure_scale(args.scale)
    result = run(args.scale, args.runs, args.plans, args.only)
    if args.policy_forms:
        from qiro import tenant_context
        from tenants.models import Company

        with tenant_context.owner_context():
            company = Company.objects.get(schema_name=result["extra"]["company"]["schema"])
        forms = policy_forms(company, args.runs)
        result["rows"] |= forms["rows"]
        result["extra"]["policy_forms_over_once_p50"] = forms["over_once_p50"]
        result["plans"] |= {key: {"runtime role": text} for key, text in forms["plans"].items()}
        if args.plans:
            result["extra"]["plans"] = result["plans"]
    for name, by_role in result["plans"].items():
        for role, text in by_role.items():
            print(f"\n--- plan: {name} as the {role}\n{text}")
    print()
    _common.report(f"queries-{args.scale}", result["rows"], result["extra"])
    print("RLS overhead (p50 with / without):")
    for name, ratio in result["extra"]["rls_overhead_p50"].items():
        print(f"  {name}: execution {ratio['execution']:.3f}, wall {ratio['wall']:.3f}")


if __name__ == "__main__":
    main()
