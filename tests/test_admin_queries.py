"""Admin pages run a fixed number of SQL statements, however many rows they show.

Every changelist and one change page of every model registered on the two
admin sites is found in the sites' ``_registry`` (a new admin page is covered
the day it is registered), rendered with a few rows of each kind and again
after ten times as many. The statements are counted on all three database
aliases (``default``, ``platform``, ``owner``). A page passes when the second
count is not larger than the first (no statement per row) and both stay
under its cap in ``QUERY_CAPS``; a page without a cap fails until one is added.
``pytest -s`` prints the measured table.

The long lists of a company (users, the permission history) are also checked
to be counted once, the unfiltered history not at all, with filters and
search still right.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin import AdminSite
from django.core.paginator import EmptyPage
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from psycopg import sql

from qiro import tenant_context
from qiro.admin_sites import company_admin, platform_admin
from qiro.db.citus import connection_is_citus
from sysauth.admin import EstimatedCountPaginator
from sysauth.models import (
    Role,
    RolePermissionHistory,
    UserRole,
)
from sysauth.sessions import base as session_base
from tests.admin_rows import CompanyRows, Picks
from tests.conftest import CompanyWithUsers
from tests.sysauth.conftest import module_company, sign_in

SMALL, LARGE = 3, 30
ALIASES = ("default", "platform", "owner")
SITES: dict[str, tuple[AdminSite, str]] = {
    "platform_admin": (platform_admin, "qiro.urls_public"),
    "company_admin": (company_admin, "qiro.urls_tenant"),
}

Page = tuple[str, str, str]  # (admin site, model label, "changelist" | "change")

# The most statements a page may run, on all aliases together, whatever its rows.
# Each cap is the count measured when the page last changed (the comment: with 3
# rows / with 30) plus two. Raise a cap only for a statement run once per page,
# never for one per row. Every request spends 2 on the platform host (session,
# user) and 5 on a company host (host, company, session, user, permissions).
# On Citus the company list also shows each company's node and shard count:
# one read of citus_schemas/citus_shards for the page, and the server asked once.
CITUS_EXTRA: dict[Page, int] = {("platform_admin", "tenants.company", "changelist"): 2}
QUERY_CAPS: dict[Page, int] = {
    # platform admin, public host
    ("platform_admin", "tenants.company", "changelist"): 11,  # 9 / 9
    ("platform_admin", "tenants.company", "change"): 7,  # 5 / 5
    ("platform_admin", "sysauth.user", "changelist"): 7,  # 5 / 5
    ("platform_admin", "sysauth.user", "change"): 5,  # 3 / 3
    ("platform_admin", "registration.application", "changelist"): 9,  # 7 / 7
    ("platform_admin", "registration.application", "change"): 6,  # 4 / 4
    ("platform_admin", "deployments.operation", "changelist"): 7,  # 5 / 5
    ("platform_admin", "deployments.operation", "change"): 5,  # 3 / 3
    ("platform_admin", "deployments.backup", "changelist"): 7,  # 5 / 5
    ("platform_admin", "deployments.backup", "change"): 6,  # 4 / 4
    ("platform_admin", "deployments.verificationrun", "changelist"): 7,  # 5 / 5
    ("platform_admin", "deployments.verificationrun", "change"): 7,  # 5 / 5
    ("platform_admin", "deployments.deployment", "changelist"): 7,  # 5 / 5
    ("platform_admin", "deployments.deployment", "change"): 8,  # 6 / 6
    ("platform_admin", "deployments.schedule", "changelist"): 7,  # 5 / 5
    ("platform_admin", "deployments.schedule", "change"): 5,  # 3 / 3
    ("platform_admin", "deployments.schedulerun", "changelist"): 10,  # 8 / 8
    ("platform_admin", "deployments.schedulerun", "change"): 7,  # 5 / 5
    ("platform_admin", "deployments.incident", "changelist"): 7,  # 5 / 5
    ("platform_admin", "deployments.incident", "change"): 5,  # 3 / 3
    ("platform_admin", "deployments.permissionreport", "changelist"): 9,  # 7 / 7
    ("platform_admin", "deployments.permissionreport", "change"): 8,  # 6 / 6
    ("platform_admin", "deployments.figuressnapshot", "changelist"): 7,  # 5 / 5
    ("platform_admin", "deployments.figuressnapshot", "change"): 5,  # 3 / 3
    ("platform_admin", "sysauth.auditentry", "changelist"): 7,  # 5 / 5
    ("platform_admin", "sysauth.auditentry", "change"): 5,  # 3 / 3
    # a company's admin, company host
    ("company_admin", "sysauth.user", "changelist"): 10,  # 8 / 8
    ("company_admin", "sysauth.user", "change"): 10,  # 8 / 8
    ("company_admin", "sysauth.role", "changelist"): 10,  # 8 / 8
    ("company_admin", "sysauth.role", "change"): 10,  # 8 / 8
    ("company_admin", "sysauth.userrole", "changelist"): 11,  # 9 / 9
    ("company_admin", "sysauth.userrole", "change"): 10,  # 8 / 8
    ("company_admin", "sysauth.session", "changelist"): 11,  # 9 / 9
    ("company_admin", "sysauth.session", "change"): 10,  # 8 / 8
    ("company_admin", "sysauth.rolepermissionhistory", "changelist"): 14,  # 12 / 12
    ("company_admin", "sysauth.rolepermissionhistory", "change"): 11,  # 9 / 9
    ("company_admin", "sysauth.auditentry", "changelist"): 10,  # 8 / 8
    ("company_admin", "sysauth.auditentry", "change"): 8,  # 6 / 6
    ("company_admin", "sysauth.apitoken", "changelist"): 10,  # 8 / 8
    ("company_admin", "sysauth.apitoken", "change"): 9,  # 7 / 7
}


def registered_pages() -> list[Page]:
    return [
        (site_name, model._meta.label_lower, page)
        for site_name, (site, _urlconf) in SITES.items()
        for model in site._registry
        for page in ("changelist", "change")
    ]


def page_url(page: Page, pk: Any = None) -> str:
    site_name, label, kind = page
    urlconf = SITES[site_name][1]
    name = f"{site_name}:{label.replace('.', '_')}_{kind}"
    return reverse(name, urlconf=urlconf, args=[pk] if kind == "change" else [])


def test_every_admin_page_has_a_query_cap():
    pages = set(registered_pages())
    missing = sorted(pages - QUERY_CAPS.keys())
    assert not missing, (
        "admin pages without a query cap: add them to QUERY_CAPS in "
        f"tests/test_admin_queries.py (the measured count plus two): {missing}"
    )
    stale = sorted(QUERY_CAPS.keys() - pages)
    assert not stale, f"QUERY_CAPS names pages no admin site registers any more: {stale}"


# --- measuring ----------------------------------------------------------------------


@dataclass
class Measured:
    count: int
    statements: list[str]
    rows: int | None = None  # rows a changelist lists in all


def measure(client: Client, url: str, host: str) -> tuple[Measured, Any]:
    """Statements of one GET of ``url`` on every alias, after a warm-up GET.

    The warm-up fills the per-process caches (content types, permissions) that
    only the first request of a process reads.
    """
    assert client.get(url, HTTP_HOST=host).status_code == 200, url
    with ExitStack() as stack:
        captured = [stack.enter_context(CaptureQueriesContext(connections[a])) for a in ALIASES]
        response = client.get(url, HTTP_HOST=host)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    statements = [
        f"[{alias}] {query['sql']}"
        for alias, capture in zip(ALIASES, captured, strict=True)
        for query in capture.captured_queries
    ]
    return Measured(len(statements), statements), response


def measure_site(client: Client, site_name: str, host: str, picks: Picks) -> dict[Page, Measured]:
    """Every registered page of one site.

    The change page is that of the row in ``picks`` (one whose page shows the
    related rows that grow); for a model without one, the first row listed the
    first time, remembered in ``picks`` so that both counts open the same row.
    """
    found: dict[Page, Measured] = {}
    for page in registered_pages():
        if page[0] != site_name or page[2] != "changelist":
            continue
        found[page], response = measure(client, page_url(page), host)
        found[page].rows = response.context["cl"].result_count
        if page[:2] not in picks:
            rows = list(response.context["cl"].result_list)
            assert rows, f"{page}: no row to open a change page of"
            picks[page[:2]] = rows[0].pk
        pk = picks[page[:2]]
        change: Page = (page[0], page[1], "change")
        found[change], _response = measure(client, page_url(change, pk), host)
    return found


def check(small: dict[Page, Measured], large: dict[Page, Measured]) -> None:
    lines = [f"{'page':<62} {SMALL:>6} {LARGE:>6} {'cap':>5}"]
    problems = []
    for page in sorted(small):
        few, many = small[page], large[page]
        cap = QUERY_CAPS.get(page)
        if cap and page in CITUS_EXTRA and connection_is_citus("owner"):
            cap += CITUS_EXTRA[page]
        lines.append(f"{' '.join(page):<62} {few.count:>6} {many.count:>6} {cap or '-':>5}")
        if many.count > few.count:
            extra = list((Counter(many.statements) - Counter(few.statements)).elements())
            problems.append(
                f"{page}: {few.count} statements with {SMALL} rows, {many.count} with {LARGE} "
                f"(a statement per row?); new ones:\n  " + "\n  ".join(extra[:10])
            )
        if page[2] == "changelist" and not (many.rows or 0) > (few.rows or 0):
            problems.append(
                f"{page}: lists {few.rows} rows both times: add rows of its model to "
                "PlatformRows or CompanyRows, or the page is not measured with more rows"
            )
        if cap is None:
            problems.append(
                f"{page}: no cap; add it to QUERY_CAPS in tests/test_admin_queries.py "
                f"(measured {few.count} / {many.count}; the cap is that plus two)"
            )
        elif max(few.count, many.count) > cap:
            problems.append(
                f"{page}: {max(few.count, many.count)} statements, over its cap of {cap}:\n  "
                + "\n  ".join(many.statements)
            )
    table = "\n".join(lines)
    print(table)
    assert not problems, table + "\n\n" + "\n\n".join(problems)


@pytest.fixture
def no_session_touch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The once-a-minute ``last_seen_at`` write is not the page's: keep it out of the counts."""
    monkeypatch.setattr(session_base, "TOUCH_INTERVAL", timedelta(days=365))


# --- the platform admin ----------------------------------------------------------------


def test_platform_admin_pages_do_not_grow_with_rows(staff_client, platform_rows, no_session_touch):
    platform_rows.grow(SMALL)
    picks = platform_rows.picks()
    small = measure_site(staff_client, "platform_admin", "localhost", picks)
    platform_rows.grow(LARGE)
    large = measure_site(staff_client, "platform_admin", "localhost", picks)
    check(small, large)


# --- a company's admin ---------------------------------------------------------------


bench_company = module_company("nqbench", removed_afterwards=True)


def owner_client(made: CompanyWithUsers) -> Client:
    client = Client()
    sign_in(client, made.host, made.owner.email)
    return client


def test_company_admin_pages_do_not_grow_with_rows(live_db, bench_company, no_session_touch):
    client = owner_client(bench_company)
    rows = CompanyRows(bench_company)
    rows.grow(SMALL)
    picks = rows.picks()
    small = measure_site(client, "company_admin", bench_company.host, picks)
    rows.grow(LARGE)
    large = measure_site(client, "company_admin", bench_company.host, picks)
    check(small, large)


# --- long lists: counted once, and the history not at all ------------------------------

HISTORY = ("company_admin", "sysauth.rolepermissionhistory", "changelist")
USERS = ("company_admin", "sysauth.user", "changelist")


def counts_of(table: str, statements: list[str]) -> list[str]:
    return [s for s in statements if "COUNT(" in s and f'FROM "{table}"' in s]


def test_the_unfiltered_history_takes_the_estimate_a_filtered_one_is_counted(
    live_db, bench_company, no_session_touch, monkeypatch
):
    from qiro.db.citus import connection_is_citus

    if connection_is_citus("owner"):
        pytest.skip(
            "Citus: the coordinator's pg_class has no row estimate for a distributed "
            "table's shell (its rows and statistics are on the worker), so the admin counts"
        )
    table = RolePermissionHistory._meta.db_table
    with connections["owner"].cursor() as cursor:  # a small table: ANALYZE reads every row
        cursor.execute(
            sql.SQL("ANALYZE {}").format(sql.Identifier(bench_company.company.schema_name, table))
        )
    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_FROM", 1)
    with tenant_context.company_context(bench_company.company):
        total = RolePermissionHistory.objects.count()
        inserts = RolePermissionHistory.objects.filter(operation="INSERT").count()
    assert total > 0
    client = owner_client(bench_company)

    unfiltered, response = measure(client, page_url(HISTORY), bench_company.host)
    assert counts_of(table, unfiltered.statements) == []
    assert response.context["cl"].result_count == total

    filtered, response = measure(
        client, page_url(HISTORY) + "?operation__exact=INSERT", bench_company.host
    )
    assert len(counts_of(table, filtered.statements)) == 1  # exact, and only once
    assert response.context["cl"].result_count == inserts
    assert response.context["cl"].full_result_count is None


def test_pages_past_a_low_estimate_are_still_served(live_db, bench_company, monkeypatch):
    with tenant_context.company_context(bench_company.company):
        history = RolePermissionHistory.objects.order_by("-changed_at", "-id")
        every = list(history)
        assert len(every) >= 3
        monkeypatch.setattr(EstimatedCountPaginator, "estimated", 1)
        paginator = EstimatedCountPaginator(history, per_page=1)
        assert (paginator.count, paginator.num_pages) == (1, 1)
        assert list(paginator.page(len(every)).object_list) == every[-1:]
        assert list(paginator.page(len(every) + 1).object_list) == []
        with pytest.raises(EmptyPage):
            paginator.page(0)
        monkeypatch.setattr(EstimatedCountPaginator, "estimated", None)
        exact = EstimatedCountPaginator(history, per_page=1)
        assert exact.count == len(every)
        with pytest.raises(EmptyPage):
            exact.page(len(every) + 1)


def test_the_users_and_the_history_still_filter_and_search(live_db, bench_company):
    made = bench_company
    with tenant_context.company_context(made.company):
        member_role = Role.objects.get(name=Role.MEMBER)
        members = set(
            UserRole.objects.filter(role=member_role).values_list("user__email", flat=True)
        )
        member_history = RolePermissionHistory.objects.filter(user=made.member).count()
        view_user = RolePermissionHistory.objects.filter(
            permission__icontains="sysauth.view_user"
        ).count()
    assert member_history > 0
    assert view_user > 0
    client = owner_client(made)

    def listed(page: Page, query: str) -> Any:
        response = client.get(page_url(page) + query, HTTP_HOST=made.host)
        assert response.status_code == 200, query
        return response.context["cl"]

    searched = listed(USERS, "?q=member@")
    assert [u.email for u in searched.result_list] == [made.member.email]
    assert searched.result_count == 1
    by_role = listed(USERS, f"?user_roles__role__id__exact={member_role.pk}")
    assert {u.email for u in by_role.result_list} == members
    assert made.member.email in members

    by_user = listed(HISTORY, f"?user__id__exact={made.member.pk}")
    assert {row.user_id for row in by_user.result_list} == {made.member.pk}
    assert by_user.result_count == member_history
    by_permission = listed(HISTORY, "?q=sysauth.view_user")
    assert by_permission.result_count == view_user
