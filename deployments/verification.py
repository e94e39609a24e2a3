"""Compare the database with what the code declares, in public and every company schema.

Each check is one set-based catalog query for all schemas at once (never a
query per schema), so a run over thousands of schemas costs a handful of
statements. Expectations come from the code:

* row security: ``qiro.rls.protected_models()`` (ENABLE, FORCE, the isolation
  policy for every role, the platform policy for the platform role in public);
* ENUM types and their values: every ``qiro.db.fields.EnumField``;
* indexes and constraints: ``Meta.indexes`` / ``Meta.constraints`` (present,
  valid, validated), and no invalid index or unvalidated constraint anywhere;
* triggers and monthly partitions: ``qiro.expectations`` declarations;
* every migration on disk applied in every schema; no orphan schema, no
  company without its schema; the runtime roles own nothing and cannot
  bypass row security.

Observations (slow statements, sizes, unused indexes, dead tuples) are
recorded as information, never as failures. The verifier takes a plain
psycopg connection, so it checks a scratch database restored from a backup
the same way as the live one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from django.apps import apps
from django.conf import settings
from django.db import models
from psycopg import sql

from qiro.db import citus
from qiro.db.catalog import NOT_EXTENSION_SCHEMA_SQL
from qiro.db.fields import EnumField
from qiro.db.roles import OWNER_ONLY_TABLES, app_public_access
from qiro.expectations import DatabaseTrigger, MonthlyPartitions, declared_expectations, model_scope
from qiro.migration_state import expected_migrations, migration_state
from qiro.rls import ISOLATION_POLICY, PLATFORM_POLICY, RowSecurity, protected_models

PASS, FAIL, SKIP, INFO = "pass", "fail", "skip", "info"
T = TypeVar("T")
PUBLIC = "public"
COMPANY = "company"

# All schemas in scope, with the scope they belong to; %s = company schema names.
WITH_SCHEMAS = sql.SQL(
    "WITH schemas(nspname, scope) AS ("
    " SELECT 'public'::text, 'public'::text"
    " UNION ALL SELECT s, 'company' FROM unnest(%s::text[]) s)"
)


def _with_schemas(body: str) -> sql.Composed:
    """A query whose first CTE is ``schemas`` (its parameter: the company schemas)."""
    return sql.Composed([WITH_SCHEMAS, sql.SQL(body)])


@dataclass(frozen=True)
class Result:
    check: str
    schema: str
    outcome: str
    expected: str = ""
    found: str = ""


def reserved_schema_patterns() -> list[str]:
    """LIKE patterns of schemas that are neither companies nor orphans (e.g. the warm pool)."""
    patterns = list(getattr(settings, "QIRO_RESERVED_SCHEMA_PATTERNS", []))
    try:
        from tenants.schema_pool import POOL_SCHEMA_LIKE
    except ImportError:  # the pool is optional
        return patterns
    return [*patterns, POOL_SCHEMA_LIKE]


def _declared_of(kind: type[T]) -> list[tuple[str, str, T]]:
    """(scope, table, expectation) of every declared expectation of one kind."""
    return [
        (scope, d.table, d.expectation)
        for d in declared_expectations()
        if isinstance(d.expectation, kind)
        for scope, wanted in ((PUBLIC, d.in_public), (COMPANY, d.in_companies))
        if wanted
    ]


def _scopes(model: type[models.Model]) -> list[str]:
    in_public, in_companies = model_scope(model)
    return ([PUBLIC] if in_public else []) + ([COMPANY] if in_companies else [])


def _per_schema(
    check: str,
    schemas: Iterable[str],
    problems: dict[str, list[str]],
    expected: dict[str, str],
) -> list[Result]:
    """One result per schema in scope: pass, or fail listing what is wrong there."""
    return [
        Result(
            check,
            schema,
            FAIL if problems.get(schema) else PASS,
            expected.get(schema, ""),
            "; ".join(sorted(problems[schema])) if problems.get(schema) else "",
        )
        for schema in schemas
    ]


class Verifier:
    """Runs every check on one database; ``run()`` returns the results."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        *,
        runtime_roles: dict[str, str],
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.conn = conn
        self.runtime_roles = runtime_roles  # {"app": name, "platform": name}
        self.progress = progress or (lambda _name: None)
        self.companies: list[str] = []

    # -- plumbing -------------------------------------------------------------

    def _rows(self, query: str | sql.Composable, params: list[Any] | None = None) -> list[Any]:
        return self.conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def schemas_for(self, scopes: list[str]) -> list[str]:
        return ([PUBLIC] if PUBLIC in scopes else []) + (
            self.companies if COMPANY in scopes else []
        )

    @property
    def all_schemas(self) -> list[str]:
        return [PUBLIC, *self.companies]

    CHECKS = (
        "schemas",
        "migrations",
        "row_security",
        "enum_types",
        "indexes",
        "constraints",
        "triggers",
        "partitions",
        "roles",
        "privileges",
        "definer_functions",
        "signup_policies",
        "company_constraint",
        "citus_placement",
    )
    OBSERVATIONS = (
        "slow_statements",
        "largest_schemas",
        "table_sizes",
        "unused_indexes",
        "dead_tuples",
    )

    def run(self, *, observations: bool = True) -> list[Result]:
        results: list[Result] = []
        names = self.CHECKS + (self.OBSERVATIONS if observations else ())
        for name in names:
            self.progress(name)
            results += getattr(self, f"check_{name}")()
        return results

    # -- checks ---------------------------------------------------------------

    def check_schemas(self) -> list[Result]:
        """Every company has its schema; every non-system schema belongs to a company."""
        self.companies = [
            r[0] for r in self._rows("SELECT schema_name FROM public.tenants_company ORDER BY 1")
        ]
        reserved = reserved_schema_patterns()
        rows = self._rows(
            sql.SQL(
                """
            WITH companies AS (SELECT schema_name FROM public.tenants_company),
            present AS (
                SELECT nspname FROM pg_namespace
                WHERE nspname NOT LIKE 'pg\\_%%' AND nspname NOT IN ('information_schema', 'public')
                  AND NOT nspname LIKE ANY(%s::text[])
                  AND {not_extension}
            )
            SELECT 'missing', schema_name FROM companies
             WHERE schema_name NOT IN (SELECT nspname FROM present)
            UNION ALL
            SELECT 'orphan', nspname FROM present
             WHERE nspname NOT IN (SELECT schema_name FROM companies)
            ORDER BY 1, 2
            """
            ).format(not_extension=sql.SQL(NOT_EXTENSION_SCHEMA_SQL)),
            [reserved],
        )
        missing = [s for kind, s in rows if kind == "missing"]
        orphans = [s for kind, s in rows if kind == "orphan"]
        results = [
            Result("schemas", s, FAIL, "the company's schema", "no schema") for s in missing
        ] + [
            Result("schemas", s, FAIL, "a company owning this schema", "no company")
            for s in orphans
        ]
        self.companies = [s for s in self.companies if s not in missing]
        if not results:
            results.append(
                Result(
                    "schemas",
                    "",
                    PASS,
                    "one schema per company, no orphans",
                    f"{len(self.companies)} companies, {len(self.companies)} schemas",
                )
            )
        return results

    def check_citus_placement(self) -> list[Result]:
        """On Citus: public tables placed as declared (``qiro.db.citus.REFERENCE_TABLES``)."""
        with self.conn.cursor() as cursor:
            if not citus.is_citus(cursor):
                return [Result("citus_placement", "", SKIP, "", "not a Citus server")]
            problems = citus.placement_problems(cursor)
        expected = f"reference: {', '.join(citus.REFERENCE_TABLES)}; the rest local"
        if not problems:
            return [Result("citus_placement", PUBLIC, PASS, expected, "as declared")]
        return [Result("citus_placement", PUBLIC, FAIL, expected, "; ".join(problems))]

    def check_migrations(self) -> list[Result]:
        """Every migration of the code is recorded as applied in every schema."""
        expected = expected_migrations()
        with self.conn.cursor() as cursor:
            state = migration_state(cursor, self.all_schemas, expected)
        problems: dict[str, list[str]] = {s: ["no django_migrations table"] for s in state.no_table}
        for schema, missing in state.outdated.items():
            if schema not in problems:
                names = sorted(f"{app}.{name}" for app, name in missing)
                shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
                problems[schema] = [f"not applied: {shown}"]
        applied = dict.fromkeys(self.all_schemas, f"{len(expected)} migrations applied")
        return _per_schema("migrations", self.all_schemas, problems, applied)

    def check_row_security(self) -> list[Result]:
        """ENABLE + FORCE, the isolation policy for all, the platform policy where declared."""
        declared: list[tuple[str, str, str, bool]] = []  # scope, table, column, platform
        for model in protected_models():
            rs: RowSecurity = model.row_security  # type: ignore[attr-defined]
            for scope in _scopes(model):
                platform = rs.platform is not None and scope == PUBLIC
                declared.append((scope, model._meta.db_table, rs.column, platform))
        if not declared:
            return [Result("row_security", "", SKIP, "", "no protected models")]
        rows = self._rows(
            _with_schemas(
                """,
            declared(scope, relname, col, platform) AS (
                SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bool[])
            )
            SELECT s.nspname, d.relname, d.platform, c.oid IS NOT NULL,
                   coalesce(c.relrowsecurity, false), coalesce(c.relforcerowsecurity, false),
                   EXISTS (
                       SELECT 1 FROM pg_policy p
                       WHERE p.polrelid = c.oid AND p.polname = %s AND p.polcmd = '*'
                         AND p.polpermissive AND p.polroles = '{0}'::oid[]
                         AND pg_get_expr(p.polqual, p.polrelid) LIKE '%%qiro.company_id%%'
                         AND pg_get_expr(p.polwithcheck, p.polrelid) LIKE '%%qiro.company_id%%'
                         AND pg_get_expr(p.polqual, p.polrelid) LIKE '%%' || d.col || '%%'
                   ),
                   EXISTS (
                       SELECT 1 FROM pg_policy p JOIN pg_roles r ON r.oid = ANY(p.polroles)
                       WHERE p.polrelid = c.oid AND p.polname = %s AND r.rolname = %s
                         AND cardinality(p.polroles) = 1
                   ),
                   ARRAY(SELECT p.polname::text FROM pg_policy p WHERE p.polrelid = c.oid
                         AND p.polname NOT IN (%s, %s) ORDER BY 1)
            FROM schemas s JOIN declared d ON d.scope = s.scope
            LEFT JOIN pg_namespace n ON n.nspname = s.nspname
            LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = d.relname
                                AND c.relkind IN ('r', 'p')
            """
            ),
            [
                self.companies,
                [d[0] for d in declared],
                [d[1] for d in declared],
                [d[2] for d in declared],
                [d[3] for d in declared],
                ISOLATION_POLICY,
                PLATFORM_POLICY,
                self.runtime_roles["platform"],
                ISOLATION_POLICY,
                PLATFORM_POLICY,
            ],
        )
        problems: dict[str, list[str]] = defaultdict(list)
        tables: dict[str, int] = defaultdict(int)
        for schema, table, platform, exists, enabled, forced, isolation, plat, extra in rows:
            tables[schema] += 1
            if not exists:
                problems[schema].append(f"{table}: table missing")
                continue
            wrong = [
                label
                for label, ok in (
                    ("ENABLE missing", enabled),
                    ("FORCE missing", forced),
                    (f"policy {ISOLATION_POLICY} missing or altered", isolation),
                    (f"policy {PLATFORM_POLICY} missing", plat or not platform),
                    (f"policy {PLATFORM_POLICY} where none is declared", platform or not plat),
                    (f"unexpected policies {extra}", not extra),
                )
                if not ok
            ]
            problems[schema] += [f"{table}: {w}" for w in wrong]
        expected = {s: f"{n} tables: ENABLE, FORCE, {ISOLATION_POLICY}" for s, n in tables.items()}
        return _per_schema("row_security", self.all_schemas, problems, expected)

    def check_enum_types(self) -> list[Result]:
        """Each ENUM type exists with exactly the values of its field's choices."""
        declared: dict[tuple[str, str], list[str]] = {}
        for model in apps.get_models():
            for field in model._meta.get_fields():
                if isinstance(field, EnumField):
                    values = sorted(str(v) for v, _label in field.flatchoices)
                    for scope in _scopes(model):
                        declared[(scope, field.enum_type)] = values
        if not declared:
            return [Result("enum_types", "", SKIP, "", "no ENUM fields declared")]
        spec = json.dumps([{"scope": s, "typname": t, "vals": v} for (s, t), v in declared.items()])
        rows = self._rows(
            _with_schemas(
                """,
            declared AS (
                SELECT * FROM jsonb_to_recordset(%s::jsonb)
                    AS d(scope text, typname text, vals text[])
            )
            SELECT s.nspname, d.typname, d.vals,
                   ARRAY(SELECT e.enumlabel::text FROM pg_enum e
                         WHERE e.enumtypid = t.oid ORDER BY 1) AS found,
                   t.oid IS NOT NULL
            FROM schemas s JOIN declared d ON d.scope = s.scope
            LEFT JOIN pg_namespace n ON n.nspname = s.nspname
            LEFT JOIN pg_type t ON t.typnamespace = n.oid AND t.typname = d.typname
                               AND t.typtype = 'e'
            WHERE t.oid IS NULL
               OR d.vals IS DISTINCT FROM ARRAY(SELECT e.enumlabel::text FROM pg_enum e
                                                WHERE e.enumtypid = t.oid ORDER BY 1)
            """
            ),
            [self.companies, spec],
        )
        problems: dict[str, list[str]] = defaultdict(list)
        for schema, typname, vals, found, exists in rows:
            problems[schema].append(
                f"{typname}: type missing" if not exists else f"{typname}: {found} ≠ {vals}"
            )
        in_scope = sorted({s for s, _t in declared})
        expected_text = ", ".join(sorted({t for _s, t in declared}))
        schemas = self.schemas_for(in_scope)
        return _per_schema("enum_types", schemas, problems, dict.fromkeys(schemas, expected_text))

    def _declared_names(self, kind: str) -> list[tuple[str, str, str]]:
        """(scope, table, name) of Meta.indexes / Meta.constraints of every model."""
        found: list[tuple[str, str, str]] = []
        for model in apps.get_models():
            if not model._meta.managed:
                continue
            items: list[Any] = list(
                model._meta.indexes if kind == "index" else model._meta.constraints
            )
            # A unique constraint is (with a condition: is only) an index of its
            # name, so the index check covers it.
            unique = [c for c in model._meta.constraints if isinstance(c, models.UniqueConstraint)]
            if kind == "index":
                items += unique
            else:
                items = [c for c in items if c not in unique]
            for item in items:
                if item.name:
                    for scope in _scopes(model):
                        found.append((scope, model._meta.db_table, item.name))
        return found

    def check_indexes(self) -> list[Result]:
        """Declared indexes exist and are valid; no invalid index anywhere."""
        declared = self._declared_names("index")
        rows = self._rows(
            _with_schemas(
                """,
            declared(scope, relname, indexname) AS (
                SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])
            )
            SELECT s.nspname, d.indexname, 'missing' FROM schemas s
            JOIN declared d ON d.scope = s.scope
            WHERE NOT EXISTS (
                SELECT 1 FROM pg_class i JOIN pg_namespace n ON n.oid = i.relnamespace
                WHERE n.nspname = s.nspname AND i.relname = d.indexname
                  AND i.relkind IN ('i', 'I'))
            UNION ALL
            SELECT n.nspname, i.relname, 'invalid' FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_namespace n ON n.oid = i.relnamespace
            JOIN schemas s ON s.nspname = n.nspname
            WHERE NOT x.indisvalid OR NOT x.indisready
            """
            ),
            [
                self.companies,
                [d[0] for d in declared],
                [d[1] for d in declared],
                [d[2] for d in declared],
            ],
        )
        problems: dict[str, list[str]] = defaultdict(list)
        for schema, name, what in rows:
            problems[schema].append(f"{name}: {what}")
        counts: dict[str, int] = defaultdict(int)
        for scope, _t, _n in declared:
            for schema in self.schemas_for([scope]):
                counts[schema] += 1
        expected = {s: f"{counts[s]} declared indexes present; all valid" for s in self.all_schemas}
        return _per_schema("indexes", self.all_schemas, problems, expected)

    def check_constraints(self) -> list[Result]:
        """Declared constraints exist; no constraint is left NOT VALID."""
        declared = self._declared_names("constraint")
        rows = self._rows(
            _with_schemas(
                """,
            declared(scope, relname, conname) AS (
                SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])
            )
            SELECT s.nspname, d.conname, 'missing' FROM schemas s
            JOIN declared d ON d.scope = s.scope
            WHERE NOT EXISTS (
                SELECT 1 FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
                WHERE n.nspname = s.nspname AND k.conname = d.conname)
            UNION ALL
            SELECT n.nspname, k.conname, 'not validated' FROM pg_constraint k
            JOIN pg_namespace n ON n.oid = k.connamespace
            JOIN schemas s ON s.nspname = n.nspname
            WHERE NOT k.convalidated
            """
            ),
            [
                self.companies,
                [d[0] for d in declared],
                [d[1] for d in declared],
                [d[2] for d in declared],
            ],
        )
        problems: dict[str, list[str]] = defaultdict(list)
        for schema, name, what in rows:
            problems[schema].append(f"{name}: {what}")
        expected = dict.fromkeys(self.all_schemas, "declared constraints present and validated")
        return _per_schema("constraints", self.all_schemas, problems, expected)

    def check_triggers(self) -> list[Result]:
        """Declared triggers exist on their tables and are enabled."""
        declared = [(scope, table, e.name) for scope, table, e in _declared_of(DatabaseTrigger)]
        if not declared:
            return [Result("triggers", "", SKIP, "", "no triggers declared")]
        rows = self._rows(
            _with_schemas(
                """,
            declared(scope, relname, tgname) AS (
                SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])
            )
            SELECT s.nspname, d.relname, d.tgname, t.tgenabled::text
            FROM schemas s JOIN declared d ON d.scope = s.scope
            LEFT JOIN pg_namespace n ON n.nspname = s.nspname
            LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = d.relname
            LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND t.tgname = d.tgname
                                  AND NOT t.tgisinternal
            WHERE t.oid IS NULL OR t.tgenabled = 'D'
            """
            ),
            [self.companies, *(list(col) for col in zip(*declared, strict=True))],
        )
        problems: dict[str, list[str]] = defaultdict(list)
        for schema, table, name, enabled in rows:
            problems[schema].append(f"{table}.{name}: {'disabled' if enabled else 'missing'}")
        schemas = self.schemas_for(sorted({d[0] for d in declared}))
        names = ", ".join(sorted({f"{d[1]}.{d[2]}" for d in declared}))
        return _per_schema(
            "triggers", schemas, problems, dict.fromkeys(schemas, f"{names} present, enabled")
        )

    def check_partitions(self) -> list[Result]:
        """Partitioned tables have a partition for this month and the months ahead.

        A month counts as covered when one partition's range holds both its
        first and its last day (12 hours in), which accepts month boundaries
        drawn in UTC or in the local time zone.
        """
        declared = [(scope, table, e.ahead) for scope, table, e in _declared_of(MonthlyPartitions)]
        if not declared:
            return [Result("partitions", "", SKIP, "", "no partitioned tables declared")]
        rows = self._rows(
            _with_schemas(
                """,
            declared(scope, relname, ahead) AS (
                SELECT * FROM unnest(%s::text[], %s::text[], %s::int[])
            ),
            months AS (
                SELECT s.nspname, d.relname, m::date AS month
                FROM schemas s JOIN declared d ON d.scope = s.scope
                CROSS JOIN LATERAL generate_series(
                    date_trunc('month', now() AT TIME ZONE 'UTC'),
                    date_trunc('month', now() AT TIME ZONE 'UTC')
                        + make_interval(months => d.ahead),
                    interval '1 month') m
            ),
            bounds AS (
                SELECT n.nspname, parent.relname,
                       (regexp_match(pg_get_expr(child.relpartbound, child.oid),
                                     'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)')) AS b
                FROM pg_inherits h
                JOIN pg_class parent ON parent.oid = h.inhparent
                JOIN pg_class child ON child.oid = h.inhrelid
                JOIN pg_namespace n ON n.oid = parent.relnamespace
                WHERE parent.relkind = 'p'
            )
            SELECT m.nspname, m.relname, m.month FROM months m
            WHERE NOT EXISTS (
                SELECT 1 FROM bounds b
                WHERE b.nspname = m.nspname AND b.relname = m.relname AND b.b IS NOT NULL
                  AND b.b[1]::timestamptz <= (m.month::timestamp AT TIME ZONE 'UTC')
                                               + interval '12 hours'
                  AND b.b[2]::timestamptz >= ((m.month + interval '1 month')::timestamp
                                               AT TIME ZONE 'UTC') - interval '12 hours')
            ORDER BY 1, 2, 3
            """
            ),
            [self.companies, *(list(col) for col in zip(*declared, strict=True))],
        )
        problems: dict[str, list[str]] = defaultdict(list)
        for schema, table, month in rows:
            problems[schema].append(f"{table}: no partition for {month:%Y-%m}")
        schemas = self.schemas_for(sorted({d[0] for d in declared}))
        text = ", ".join(sorted({f"{d[1]} (+{d[2]} months)" for d in declared}))
        return _per_schema(
            "partitions", schemas, problems, dict.fromkeys(schemas, f"partitions for {text}")
        )

    def check_company_constraint(self) -> list[Result]:
        from deployments.checks_company_constraint import check_company_constraint

        return check_company_constraint(self)

    def check_roles(self) -> list[Result]:
        """The runtime roles: no superuser, no BYPASSRLS, own nothing, belong to no role."""
        names = [self.runtime_roles[k] for k in sorted(self.runtime_roles)]
        rows = self._rows(
            """
            SELECT x.name, r.oid IS NOT NULL, coalesce(r.rolsuper, false),
                   coalesce(r.rolbypassrls, false),
                   coalesce(r.rolcreaterole, false) OR coalesce(r.rolcreatedb, false),
                   (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
                   + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)
                   + (SELECT count(*) FROM pg_type WHERE typowner = r.oid)
                   + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid),
                   ARRAY(SELECT g.rolname::text FROM pg_auth_members m
                         JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid)
            FROM unnest(%s::text[]) x(name) LEFT JOIN pg_roles r ON r.rolname = x.name
            """,
            [names],
        )
        results = []
        for name, exists, superuser, bypass, creates, owned, member_of in rows:
            wrong = [
                label
                for label, bad in (
                    ("role missing", not exists),
                    ("SUPERUSER", superuser),
                    ("BYPASSRLS", bypass),
                    ("CREATEROLE/CREATEDB", creates),
                    (f"owns {owned} objects", owned),
                    (f"member of {member_of}", member_of),
                )
                if bad
            ]
            results.append(
                Result(
                    "roles",
                    "",
                    FAIL if wrong else PASS,
                    f"{name}: NOSUPERUSER NOBYPASSRLS, owns nothing, member of nothing",
                    f"{name}: " + ", ".join(wrong) if wrong else "",
                )
            )
        return results

    def check_privileges(self) -> list[Result]:
        """The runtime roles' table rights are what ``qiro.db.roles`` declares, no more.

        Owner-only tables (``django_migrations``) are untouchable in every
        schema; in ``public`` the runtime role has only its declared
        ``app_public_access``; the platform role cannot use company schemas.
        """
        app, platform = self.runtime_roles["app"], self.runtime_roles["platform"]
        declared = app_public_access()
        rows = self._rows(
            _with_schemas(
                """
            SELECT s.nspname, c.relname, r.rolname::text,
                   ARRAY(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p
                         WHERE has_table_privilege(r.oid, c.oid, p)),
                   has_schema_privilege(r.oid, n.oid, 'USAGE')
            FROM schemas s
            JOIN pg_namespace n ON n.nspname = s.nspname
            JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
            CROSS JOIN pg_roles r
            WHERE r.rolname = ANY(%s::text[])
              AND (s.nspname = 'public' OR c.relname = ANY(%s::text[])
                   OR r.rolname = %s)
            """
            ),
            [self.companies, [app, platform], list(OWNER_ONLY_TABLES), platform],
        )
        problems: dict[str, list[str]] = defaultdict(list)
        for schema, table, role, privileges, usage in rows:
            if not privileges:
                continue
            if table in OWNER_ONLY_TABLES:
                problems[schema].append(f"{role} has {privileges} on {table}")
            elif schema == PUBLIC and role == app:
                extra = sorted(set(privileges) - set(declared.get(table, ())))
                if extra:
                    problems[schema].append(f"{role} has undeclared {extra} on {table}")
            elif schema != PUBLIC and role == platform and usage:
                problems[schema].append(f"{role} can use this company schema ({table})")
        expected = dict.fromkeys(self.all_schemas, "runtime roles: declared rights only")
        return _per_schema("privileges", self.all_schemas, problems, expected)

    def check_definer_functions(self) -> list[Result]:
        from deployments.checks_signup import check_definer_functions

        return check_definer_functions(self)

    def check_signup_policies(self) -> list[Result]:
        from deployments.checks_signup import check_signup_policies

        return check_signup_policies(self)

    # -- observations ---------------------------------------------------------

    def _info(self, check: str, rows: list[Any], columns: list[str]) -> list[Result]:
        found = json.dumps(
            [dict(zip(columns, r, strict=True)) for r in rows], ensure_ascii=False, default=str
        )
        return [Result(check, "", INFO, "", found)]

    def check_slow_statements(self) -> list[Result]:
        installed = self._rows("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        if not installed:
            return [
                Result(
                    "slow_statements",
                    "",
                    SKIP,
                    "",
                    "pg_stat_statements is not installed in this database "
                    "(CREATE EXTENSION pg_stat_statements; it must be in shared_preload_libraries)",
                )
            ]
        try:
            with self.conn.transaction():
                rows = self._rows(
                    "SELECT left(query, 200), calls, round(mean_exec_time::numeric, 2), "
                    "round(total_exec_time::numeric, 1) FROM pg_stat_statements "
                    "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "ORDER BY mean_exec_time DESC LIMIT 10"
                )
        except psycopg.Error as error:
            return [Result("slow_statements", "", SKIP, "", str(error).strip())]
        return self._info("slow_statements", rows, ["query", "calls", "mean_ms", "total_ms"])

    def check_largest_schemas(self) -> list[Result]:
        rows = self._rows(
            """
            SELECT n.nspname, sum(pg_total_relation_size(c.oid))::bigint AS bytes
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm') AND n.nspname = ANY(%s::text[])
            GROUP BY 1 ORDER BY 2 DESC LIMIT 10
            """,
            [self.all_schemas],
        )
        return self._info("largest_schemas", rows, ["schema", "bytes"])

    def check_table_sizes(self) -> list[Result]:
        rows = self._rows(
            """
            SELECT n.nspname, c.relname, pg_total_relation_size(c.oid),
                   pg_indexes_size(c.oid), c.reltuples::bigint
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm') AND n.nspname = ANY(%s::text[])
            ORDER BY 3 DESC LIMIT 15
            """,
            [self.all_schemas],
        )
        return self._info(
            "table_sizes", rows, ["schema", "table", "total_bytes", "index_bytes", "rows_estimate"]
        )

    def check_unused_indexes(self) -> list[Result]:
        rows = self._rows(
            """
            SELECT s.schemaname, s.relname, s.indexrelname, pg_relation_size(s.indexrelid)
            FROM pg_stat_user_indexes s JOIN pg_index x ON x.indexrelid = s.indexrelid
            WHERE s.idx_scan = 0 AND NOT x.indisunique AND NOT x.indisprimary
              AND s.schemaname = ANY(%s::text[])
            ORDER BY 4 DESC LIMIT 15
            """,
            [self.all_schemas],
        )
        return self._info("unused_indexes", rows, ["schema", "table", "index", "bytes"])

    def check_dead_tuples(self) -> list[Result]:
        rows = self._rows(
            """
            SELECT schemaname, relname, n_dead_tup, n_live_tup, last_autovacuum
            FROM pg_stat_user_tables
            WHERE n_dead_tup > 0 AND schemaname = ANY(%s::text[])
            ORDER BY n_dead_tup DESC LIMIT 15
            """,
            [self.all_schemas],
        )
        return self._info(
            "dead_tuples", rows, ["schema", "table", "dead", "live", "last_autovacuum"]
        )
