"""The daily and weekly maintenance jobs on real data: figures snapshot, REINDEX, ANALYZE."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from psycopg import sql

from deployments.models import FiguresSnapshot
from deployments.routine import index_health, statistics
from deployments.routine.figures import refresh_and_snapshot_figures
from qiro import tenant_context
from qiro.db import pg
from sysauth.models import User
from tenants import schema_pool
from tenants.models import Company
from tests.conftest import english, make_company
from tests.registration.factories import unique_label, valid_brn


@pytest.fixture
def fresh_company(live_db):
    made = make_company(unique_label("fig"), valid_brn(), "지표 상사")
    tenant_context.clear()
    yield made
    Company.objects.using("owner").filter(pk=made.company.pk).delete()
    schema_pool.drop_schema(made.company.schema_name)


def test_the_figures_snapshot_keeps_one_row_per_company_and_day(fresh_company):
    now = timezone.now()
    refresh_and_snapshot_figures(now=now)
    with tenant_context.company_context(fresh_company.company):
        User.objects.create_user("third@fig.example.kr", "x", full_name="셋째")
    tenant_context.clear()
    result = refresh_and_snapshot_figures(now=now + timedelta(minutes=5))
    assert "snapshot" in english(result)

    day = timezone.localdate(now)
    rows = FiguresSnapshot.objects.using("owner").filter(day=day)
    mine = rows.get(schema_name=fresh_company.company.schema_name)  # one row, not two
    assert (mine.company_id, mine.users) == (fresh_company.company.pk, 3)
    assert mine.schema_size_bytes > 0
    assert mine.taken_at == now + timedelta(minutes=5)
    companies = Company.objects.using("owner").exclude(schema_name="public")
    total = rows.get(schema_name="")
    assert total.companies == companies.count() == rows.exclude(schema_name="").count()
    assert total.users == sum(companies.values_list("user_count", flat=True))


def owner_run(*statements: str) -> None:
    with pg.connect() as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def probe_tables(live_db):
    """public.routine_bloated (90 % of its rows deleted, vacuumed) and public.routine_tidy."""
    owner_run(
        "CREATE TABLE public.routine_bloated (id bigint PRIMARY KEY, v text) "
        "WITH (autovacuum_enabled = off)",
        "CREATE INDEX routine_bloated_v ON public.routine_bloated (v)",
        "INSERT INTO public.routine_bloated "
        "SELECT i, md5(i::text) FROM generate_series(1, 20000) i",
        "DELETE FROM public.routine_bloated WHERE id % 10 <> 0",
        "VACUUM ANALYZE public.routine_bloated",
        "CREATE TABLE public.routine_tidy (id bigint, v text) WITH (autovacuum_enabled = off)",
        "INSERT INTO public.routine_tidy SELECT i, md5(i::text) FROM generate_series(1, 20000) i",
        "CREATE INDEX routine_tidy_v ON public.routine_tidy (v)",
        "ANALYZE public.routine_tidy",
    )
    yield
    owner_run("DROP TABLE public.routine_bloated", "DROP TABLE public.routine_tidy")


def filenode(index: str) -> int:
    with pg.connect() as conn:
        row = conn.execute("SELECT pg_relation_filenode(%s::regclass)", [index]).fetchone()
    assert row is not None
    return int(row[0])


@override_settings(QIRO_REINDEX_MIN_BYTES=64 * 1024, QIRO_REINDEX_BLOAT_RATIO=0.5)
def test_index_health_rebuilds_the_bloated_index_and_leaves_the_tidy_one(probe_tables):
    with pg.connect() as conn:
        found = {i.qualified: i for i in index_health.index_health(conn)}
    bloated, tidy = found["public.routine_bloated_v"], found["public.routine_tidy_v"]
    assert bloated.bloat_ratio > 0.8, bloated
    assert tidy.bloat_ratio < 0.2, tidy
    assert found["public.routine_bloated_pkey"].enforces
    before = {
        name: filenode(name) for name in ("public.routine_bloated_v", "public.routine_tidy_v")
    }

    result = index_health.reindex_bloated_indexes(now=timezone.now())

    assert "public.routine_bloated_v" in english(result)
    assert "public.routine_tidy_v" not in english(result)
    assert filenode("public.routine_bloated_v") != before["public.routine_bloated_v"]
    assert filenode("public.routine_tidy_v") == before["public.routine_tidy_v"]
    with pg.connect() as conn:
        after = {i.qualified: i for i in index_health.index_health(conn)}
    assert after["public.routine_bloated_v"].bytes < bloated.bytes / 4
    # Never scanned and not enforcing uniqueness: reported as unused.
    assert "unused" in english(result)


@pytest.fixture
def stale_table(live_db):
    owner_run(
        "CREATE TABLE public.routine_stale (id bigint) WITH (autovacuum_enabled = off)",
        "INSERT INTO public.routine_stale SELECT generate_series(1, 1000)",
        # Counters are sent when the session goes idle: before ANALYZE resets them.
        "SELECT pg_stat_force_next_flush()",
        "ANALYZE public.routine_stale",
    )
    with pg.connect(autocommit=False) as conn:
        conn.execute("INSERT INTO public.routine_stale SELECT generate_series(1001, 1500)")
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.commit()
    yield "routine_stale"
    owner_run("DROP TABLE public.routine_stale")


def last_analyze(table: str):
    with pg.connect() as conn:
        row = conn.execute(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE schemaname = 'public' "
            "AND relname = %s",
            [table],
        ).fetchone()
    return row[0] if row else None


def test_the_statistics_job_analyses_a_table_made_stale(stale_table):
    with pg.connect() as conn:
        stale = {(s, t): n for s, t, n in statistics.stale_tables(conn)}
    assert stale[("public", stale_table)] == 500
    analysed_before = last_analyze(stale_table)

    result = statistics.analyze_stale_tables(now=timezone.now())

    assert last_analyze(stale_table) > analysed_before
    assert result
    with pg.connect() as conn:
        assert ("public", stale_table) not in {(s, t) for s, t, _n in statistics.stale_tables(conn)}


def test_a_fresh_table_is_not_stale(stale_table):
    owner_run(sql.SQL("ANALYZE {}").format(sql.Identifier("public", stale_table)).as_string())
    with pg.connect() as conn:
        assert ("public", stale_table) not in {(s, t) for s, t, _n in statistics.stale_tables(conn)}
