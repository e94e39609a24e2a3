"""Every admin page of both sites walked in Chromium, in Korean, at 1280 px.

Each list and one change page of every model registered on the two admin
sites (found in their registries, as the query-count test finds them), the
admin indexes, the monitoring page and a company's portal: none may scroll
sideways, show a stock error page, or show a raw number where a person reads
a value (a duration like ``2.146413928`` or a size in bytes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from deployments.models import Backup
from qiro import tenant_context
from tests.admin_rows import MARK, CompanyRows
from tests.browser.conftest import LiveServer
from tests.conftest import PASSWORD as STAFF_PASSWORD
from tests.conftest import CompanyWithUsers
from tests.sysauth.conftest import PASSWORD, throwaway_company
from tests.test_admin_queries import SMALL, page_url, registered_pages

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

WIDTH = 1280
RAW_FLOAT = re.compile(r"\b\d+\.\d{4,}\b")  # a duration or a size left as the machine wrote it
STOCK_PAGES = ("Traceback", "Server Error (500)", "Page not found (404)", "DisallowedHost")


@pytest.fixture
def walked_company(live_db: None) -> Iterator[CompanyWithUsers]:
    with throwaway_company("walk") as made:
        yield made


def signed_in(browser: Browser, url: str, email: str, password: str) -> Page:
    context = browser.new_context(
        locale="ko-KR", timezone_id="Asia/Seoul", viewport={"width": WIDTH, "height": 800}
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(url)
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.locator("#id_password").press("Enter")
    return page


def problems_of(page: Page, url: str) -> list[str]:
    response = page.goto(url)
    found = []
    if response is None or response.status != 200:
        found.append(f"{url}: HTTP {response.status if response else '?'}")
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > WIDTH:
        found.append(f"{url}: {width} px wide at {WIDTH}")
    text = page.inner_text("body")
    found += [f"{url}: a stock page ({marker})" for marker in STOCK_PAGES if marker in text]
    found += [f"{url}: raw value {raw!r}" for raw in RAW_FLOAT.findall(text)[:3]]
    return found


def walk(page: Page, base: str, site: str, picks: dict[tuple[str, str], object]) -> list[str]:
    """Each list, and the change page of the picked row (else of the list's first row)."""
    found: list[str] = []
    first_href: str | None = None
    for kind in registered_pages():
        if kind[0] != site:
            continue
        if kind[2] == "changelist":
            found += problems_of(page, base + page_url(kind))
            first = page.locator("#result_list tbody tr a[href*='/change/']").first
            first_href = first.get_attribute("href") if first.count() else None
            continue
        pk = picks.get(kind[:2])
        if pk is not None:
            found += problems_of(page, base + page_url(kind, pk))
        elif first_href:
            found += problems_of(page, base + first_href)
    return found


def test_every_admin_page_fits_and_reads_well_in_chromium(
    qiro_server: LiveServer,
    browser: Browser,
    staff_client,
    platform_rows,
    walked_company,
):
    platform_rows.grow(SMALL)
    with tenant_context.owner_context():  # a record with machine-written figures
        Backup.objects.create(
            scope=Backup.Scope.DATABASE, database_name=MARK, status=Backup.Status.OK,
            size_bytes=291_379, duration_seconds=2.146413928000129,
        )  # fmt: skip
    staff = signed_in(
        browser, qiro_server.url(path="/admin/login/"), "platform-staff@qiro.example.kr",
        STAFF_PASSWORD,
    )  # fmt: skip
    base = qiro_server.url().rstrip("/")
    found = walk(staff, base, "platform_admin", platform_rows.picks())
    for path in ("/admin/", "/admin/deployments/operation/monitoring/"):
        found += problems_of(staff, base + path)

    rows = CompanyRows(walked_company)
    rows.grow(SMALL)
    company_base = qiro_server.url(host=walked_company.host).rstrip("/")
    owner = signed_in(
        browser, company_base + "/accounts/login/", walked_company.owner.email, PASSWORD
    )
    found += walk(owner, company_base, "company_admin", rows.picks())
    for path in ("/", "/admin/", "/accounts/sessions/"):
        found += problems_of(owner, company_base + path)
    assert found == [], "\n".join(found)
