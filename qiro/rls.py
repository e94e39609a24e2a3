"""Row-level security: the second wall, declared on the models that need it.

A model that holds company data declares ``row_security = RowSecurity(...)``.
That declaration is the single list of protected tables: migrations install
it (``EnableRowSecurity``), the system check ``qiro.E001`` compares it with the
catalogs, and the security tests attack every table in it.

The policy is the same everywhere: a row is visible and writable only when
its company column equals ``qiro.company_id`` of the current transaction. No
context means no rows. In the public schema a table may add a second policy
for the platform role alone (``platform``), e.g. staff accounts, whose company
is NULL. There is no other way around the isolation policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models, router
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.utils.translation import gettext_lazy as _
from psycopg import sql

from qiro.db.citus import is_citus
from qiro.db.declared import COMPANY, DeclaredPolicy, policy_comment
from qiro.db.roles import role_name

ISOLATION_POLICY = "qiro_company_isolation"
PLATFORM_POLICY = "qiro_platform_access"
PUBLIC_SCHEMA = "public"

COMPANY_SETTING_SQL = "NULLIF(current_setting('qiro.company_id', true), '')::bigint"
# In policies on plain PostgreSQL: wrapped in a sub-select, evaluated once per
# statement (an InitPlan) instead of once per row. Citus refuses sub-selects in
# the policies of distributed, reference and local tables, so there the
# setting is read per row; a STABLE function does not help on either server
# (PostgreSQL inlines the SQL one back into the per-row expression, and calls
# a plpgsql one per row): bench/queries.py measures the forms side by side.
CURRENT_COMPANY_SQL = f"(SELECT {COMPANY_SETTING_SQL})"
PER_ROW_COMPANY_SQL = f"({COMPANY_SETTING_SQL})"


@dataclass(frozen=True)
class RowSecurity:
    """How a model's rows belong to a company.

    column:   the column holding the company id.
    platform: SQL predicate of the platform role's own policy, created only in
              the public schema (None: the platform role gets no rows).
    """

    column: str = "company_id"
    platform: str | None = None


class CurrentCompanyId(models.Func):
    """The company of the current transaction, as a column default."""

    template = f"({COMPANY_SETTING_SQL})"
    output_field = models.BigIntegerField()
    allowed_default = True

    def __init__(self) -> None:
        super().__init__()


# Rows of the public schema (platform staff, the platform's own records) have
# no company; a platform policy of this predicate reaches exactly those.
PLATFORM_ROWS = "company_id IS NULL"


def company_column() -> models.BigIntegerField:
    """The company column of a model under row security: the current company by default.

    A row written in a company's context belongs to it; rows of the public
    schema (no context) have none.
    """
    return models.BigIntegerField(
        _("company"), null=True, blank=True, editable=False, db_default=CurrentCompanyId()
    )


def protected_models() -> list[type[models.Model]]:
    """Every installed model that declares ``row_security``."""
    return [
        m for m in apps.get_models() if isinstance(getattr(m, "row_security", None), RowSecurity)
    ]


def company_value_sql(*, citus: bool) -> str:
    """How a policy reads the current company: once per statement, or per row on Citus."""
    return PER_ROW_COMPANY_SQL if citus else CURRENT_COMPANY_SQL


def isolation_predicate(column: str, *, citus: bool) -> sql.Composed:
    """The isolation policy's predicate, in the form the server accepts and runs best."""
    return sql.SQL("{} = " + company_value_sql(citus=citus)).format(sql.Identifier(column))


def isolation_using(column: str, *, citus: bool) -> str:
    """The isolation predicate as declared (its hash goes in the policy's comment).

    The same choice of form as ``isolation_predicate``: a policy installed on
    one server is declared in that server's form, so verification passes on
    both and still names a policy whose predicate was changed.
    """
    return f"{column} = {company_value_sql(citus=citus)}"


def isolation_policy(table: str, column: str, scope: str, *, citus: bool) -> DeclaredPolicy:
    predicate = isolation_using(column, citus=citus)
    return DeclaredPolicy(table, ISOLATION_POLICY, "ALL", "public", predicate, predicate, scope)


def platform_policy(table: str, predicate: str) -> DeclaredPolicy:
    return DeclaredPolicy(table, PLATFORM_POLICY, "ALL", "platform", predicate, predicate)


class EnableRowSecurity(Operation):
    """Enable and FORCE row-level security on a table and create its policies.

    Idempotent (policies are dropped and re-created) and reversible. FORCE
    makes the policies bind the table's owner too, unless it has BYPASSRLS.
    """

    reduces_to_sql = True
    reversible = True

    def __init__(self, table: str, column: str = "company_id", platform: str | None = None):
        self.table = table
        self.column = column
        self.platform = platform

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"table": self.table, "column": self.column}
        if self.platform is not None:
            kwargs["platform"] = self.platform
        return ("qiro.rls.EnableRowSecurity", [], kwargs)

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, *states: Any
    ) -> None:
        in_public = getattr(schema_editor.connection, "schema_name", PUBLIC_SCHEMA) == PUBLIC_SCHEMA
        with schema_editor.connection.cursor() as cursor:
            citus = is_citus(cursor)
        statements = enable_statements(
            self.table, self.column, self.platform, in_public=in_public, citus=citus
        )
        self._execute(app_label, schema_editor, statements)

    def database_backwards(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, *states: Any
    ) -> None:
        self._execute(app_label, schema_editor, disable_statements(self.table))

    @staticmethod
    def _execute(
        app_label: str, schema_editor: BaseDatabaseSchemaEditor, statements: list[sql.Composed]
    ) -> None:
        if not router.allow_migrate(schema_editor.connection.alias, app_label):
            return  # e.g. a public-only app while a company schema is migrated
        for statement in statements:
            schema_editor.execute(statement.as_string(schema_editor.connection.connection))

    def describe(self) -> str:
        return f"Enable and force row-level security on {self.table}"

    @property
    def migration_name_fragment(self) -> str:
        return f"rls_{self.table}"


def enable_statements(
    table: str,
    column: str,
    platform: str | None,
    *,
    in_public: bool,
    schema: str | None = None,
    citus: bool = False,
) -> list[sql.Composed]:
    t = sql.Identifier(schema, table) if schema else sql.Identifier(table)
    predicate = isolation_predicate(column, citus=citus)
    isolation = isolation_policy(
        table, column, PUBLIC_SCHEMA if in_public else COMPANY, citus=citus
    )
    statements = [
        sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(t),
        sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(t),
        sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(ISOLATION_POLICY), t),
        sql.SQL(
            "CREATE POLICY {} ON {} AS PERMISSIVE FOR ALL TO PUBLIC USING ({}) WITH CHECK ({})"
        ).format(sql.Identifier(ISOLATION_POLICY), t, predicate, predicate),
        policy_comment(schema=schema, table=table, name=ISOLATION_POLICY, digest=isolation.digest),
        sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(PLATFORM_POLICY), t),
    ]
    if platform is not None and in_public:
        statements += [
            sql.SQL(
                "CREATE POLICY {} ON {} AS PERMISSIVE FOR ALL TO {} USING ({}) WITH CHECK ({})"
            ).format(
                sql.Identifier(PLATFORM_POLICY),
                t,
                sql.Identifier(role_name("platform")),
                sql.SQL(platform),  # a literal of the model's declaration, never input
                sql.SQL(platform),
            ),
            policy_comment(
                schema=schema,
                table=table,
                name=PLATFORM_POLICY,
                digest=platform_policy(table, platform).digest,
            ),
        ]
    return statements


def disable_statements(table: str) -> list[sql.Composed]:
    t = sql.Identifier(table)
    return [
        sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(PLATFORM_POLICY), t),
        sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(ISOLATION_POLICY), t),
        sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(t),
        sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(t),
    ]


def reapply_for_schema(cursor: Any, schema_name: str) -> None:
    """Re-create the row security of every protected table present in one schema.

    Used after a schema is copied (a clone drops FORCE and may lose policies).
    Runs on the owner's cursor; names are schema-qualified, so the cursor's
    search_path does not matter.
    """
    declared = {m._meta.db_table: m.row_security for m in protected_models()}  # type: ignore[attr-defined]
    citus = is_citus(cursor)
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)",
        [schema_name, list(declared)],
    )
    for (table,) in cursor.fetchall():
        for statement in enable_statements(
            table,
            declared[table].column,
            declared[table].platform,
            in_public=schema_name == PUBLIC_SCHEMA,
            schema=schema_name,
            citus=citus,
        ):
            cursor.execute(statement)


def missing_row_security(cursor: Any) -> list[tuple[str, str, str]]:
    """(schema, table, what is missing) for every protected table, in all schemas.

    One set-based query over the catalogs, whatever the number of schemas.
    """
    tables = [m._meta.db_table for m in protected_models()]
    cursor.execute(
        """
        SELECT n.nspname, c.relname,
               concat_ws(', ',
                   CASE WHEN NOT c.relrowsecurity THEN 'ENABLE' END,
                   CASE WHEN NOT c.relforcerowsecurity THEN 'FORCE' END,
                   CASE WHEN p.polname IS NULL THEN 'policy ' || %s END)
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_policy p ON p.polrelid = c.oid AND p.polname = %s
        WHERE c.relkind IN ('r', 'p') AND c.relname = ANY(%s)
          AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'
          AND NOT (c.relrowsecurity AND c.relforcerowsecurity AND p.polname IS NOT NULL)
        ORDER BY 1, 2
        """,
        [ISOLATION_POLICY, ISOLATION_POLICY, tables],
    )
    return list(cursor.fetchall())
