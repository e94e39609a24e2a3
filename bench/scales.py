"""The bench's named scales, the names of what they hold, and the summary a build leaves.

``bench/data.py`` builds a scale; the other benches find its companies and
users by these names (``schema_of``, ``host_of``, ``admin_email`` …, read as
``data.*``). A complete build's summary is kept as its database's comment
(``read_marker``, ``write_marker``), beside the rows it actually holds
(``counts``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass
from typing import Any

PASSWORD = "bench-passphrase-2026"  # noqa: S105 - the bench users are throwaway
MARKER = "qiro-bench:"


@dataclass(frozen=True)
class Scale:
    companies: int
    users: int  # in total, first administrators included
    big_companies: int  # companies of `big_users` users each
    big_users: int
    history: int  # permission-history rows in total
    sessions_per_user: float
    token_months: int
    tokens_per_month: int

    def user_counts(self) -> list[int]:
        """Users per company: the big ones first, then a 1/rank tail summing to the rest."""
        counts = [self.big_users] * self.big_companies
        rest = self.companies - self.big_companies
        remaining = self.users - sum(counts)
        if rest == 0:
            return counts
        if self.big_companies == 0:
            return counts + _spread(remaining, [1.0] * rest)
        return counts + _spread(remaining, [1 / (rank + 10) for rank in range(rest)])


def _spread(total: int, weights: list[float]) -> list[int]:
    """``total`` split by ``weights``, every share at least 2, summing exactly to ``total``."""
    scale = total / sum(weights)
    shares = [max(2, math.floor(w * scale)) for w in weights]
    shares[0] += total - sum(shares)
    return shares


SCALES = {
    "small": Scale(
        companies=50, users=5_000, big_companies=0, big_users=0, history=20_000,
        sessions_per_user=0.5, token_months=12, tokens_per_month=100,
    ),
    "medium": Scale(
        companies=20, users=200_000, big_companies=2, big_users=50_000, history=1_000_000,
        sessions_per_user=0.5, token_months=12, tokens_per_month=1_000,
    ),
    "large": Scale(
        companies=1_000, users=1_000_000, big_companies=5, big_users=50_000, history=5_000_000,
        sessions_per_user=0.5, token_months=12, tokens_per_month=10_000,
    ),
}  # fmt: skip


def schema_of(index: int) -> str:
    return f"bench_c{index:04d}"


def host_of(index: int) -> str:
    return f"bench-c{index:04d}.localhost"


def admin_email(index: int) -> str:
    return f"admin@bench-c{index:04d}.example.kr"


def user_email(index: int, number: int) -> str:
    """The e-mail of the ``number``-th bulk user of company ``index`` (1-based)."""
    return f"user{number}@bench-c{index:04d}.example.kr"


def brn(index: int) -> str:
    from tenants.validators import brn_check_digit

    nine = f"8{index:08d}"
    return nine + str(brn_check_digit(nine))


def psycopg_connect() -> Any:
    import psycopg

    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)


def read_marker() -> dict[str, Any] | None:
    with psycopg_connect() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
    comment = row[0] if row else None
    if not comment or not comment.startswith(MARKER):
        return None
    return dict(json.loads(comment.removeprefix(MARKER)))


def write_marker(summary: dict[str, Any]) -> None:
    from psycopg import sql

    with psycopg_connect() as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(conn.info.dbname), sql.Literal(MARKER + json.dumps(summary))
            )
        )


def counts() -> dict[str, int]:
    """Rows actually in the database (all company schemas), counted by the owner."""
    from django.db import connections
    from psycopg import sql

    from tenants.models import Company

    schemas = list(
        Company.objects.using("owner").filter(schema_name__startswith="bench_c")
        .values_list("schema_name", flat=True)
    )  # fmt: skip
    totals: dict[str, int] = {"companies": len(schemas)}
    tables = {
        "users": "sysauth_user",
        "roles": "sysauth_role",
        "role_permissions": "sysauth_rolepermission",
        "role_assignments": "sysauth_userrole",
        "history": "sysauth_rolepermissionhistory",
        "sessions": "sysauth_session",
    }
    with connections["owner"].cursor() as cursor:
        for label, table in tables.items():
            union = sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(s, table))
                for s in schemas
            )
            cursor.execute(sql.SQL("SELECT coalesce(sum(n), 0) FROM ({}) AS t").format(union))
            totals[label] = int(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM registration_emailverificationtoken")
        totals["tokens"] = int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT count(*) FROM pg_inherits "
            "WHERE inhparent = 'registration_emailverificationtoken'::regclass"
        )
        totals["token_partitions"] = int(cursor.fetchone()[0])
        cursor.execute("SELECT pg_database_size(current_database())")
        totals["database_bytes"] = int(cursor.fetchone()[0])
    return totals


def scale_arguments(doc: str, **whole_numbers: int) -> argparse.ArgumentParser:
    """A bench's command line: the scale it runs at, then its whole-number options
    (``--name``), each with its default."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("scale", choices=sorted(SCALES))
    for name, default in whole_numbers.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    return parser
