"""Monthly partitions of ``registration_emailverificationtoken``: made ahead, dropped when old.

Runs on the owner's connection (DDL). Partition names are deterministic
(``registration_emailverificationtoken_pYYYY_MM``). A new partition gets row
security with no policy for the runtime role and loses the runtime role's
default privileges: only the parent table, whose policies say what the sign-up
flow may do, is reachable.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction
from django.utils import timezone
from psycopg import sql

from qiro.db.roles import role_name
from qiro.tenant_context import OWNER_ALIAS

PARENT = "registration_emailverificationtoken"
PARTITION_RE = re.compile(rf"^{PARENT}_p(\d{{4}})_(\d{{2}})$")


@dataclass(frozen=True)
class PartitionChanges:
    created: list[str]
    dropped: list[str]


def month_start(day: dt.date, months: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    return f"{PARENT}_p{month:%Y_%m}"


def existing_partitions(cursor: Any) -> list[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "JOIN pg_namespace n ON n.oid = p.relnamespace "
        "WHERE n.nspname = 'public' AND p.relname = %s ORDER BY 1",
        [PARENT],
    )
    return [row[0] for row in cursor.fetchall()]


def _create_partition(cursor: Any, month: dt.date) -> None:
    name = sql.Identifier("public", partition_name(month))
    # Bounds in UTC so that a month is the same whatever the session's time zone.
    lower = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
    upper_month = month_start(month, 1)
    upper = dt.datetime(upper_month.year, upper_month.month, 1, tzinfo=dt.UTC)
    cursor.execute(
        sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
            name, sql.Identifier("public", PARENT), sql.Literal(lower), sql.Literal(upper)
        )
    )
    cursor.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(name))
    cursor.execute(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(name))
    cursor.execute(
        sql.SQL("REVOKE ALL ON {} FROM {}").format(name, sql.Identifier(role_name("app")))
    )


def maintain_token_partitions(
    *, months_ahead: int = 3, retention_months: int = 6, today: dt.date | None = None
) -> PartitionChanges:
    """Make sure this month's and the next ``months_ahead`` partitions exist; drop old ones.

    A partition is dropped when its whole month ended more than
    ``retention_months`` months before the current month (tokens live 24 hours,
    so only the audit trail is lost). Idempotent.
    """
    current = month_start(today or timezone.now().astimezone(dt.UTC).date())
    wanted = [month_start(current, n) for n in range(months_ahead + 1)]
    oldest_kept = month_start(current, -retention_months)
    created: list[str] = []
    dropped: list[str] = []
    with transaction.atomic(using=OWNER_ALIAS), connections[OWNER_ALIAS].cursor() as cursor:
        present = set(existing_partitions(cursor))
        for month in wanted:
            if partition_name(month) not in present:
                _create_partition(cursor, month)
                created.append(partition_name(month))
        for name in sorted(present):
            match = PARTITION_RE.match(name)
            if match and dt.date(int(match[1]), int(match[2]), 1) < oldest_kept:
                cursor.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier("public", name)))
                dropped.append(name)
    return PartitionChanges(created=created, dropped=dropped)
