"""The product walked in Chromium, in Korean, as its people meet it.

One journey, each step waiting for what the page shows (no sleeps): a
business signs up (first with mistakes), opens the e-mail link and confirms,
a platform administrator approves, the first administrator signs in at the
company portal, gives a colleague a role, signs out a second browser's
session (which is then signed out), and a verification run is watched to its
end on its progress page.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.core import mail
from django.utils import translation

from deployments.models import Operation
from deployments.worker import run_worker
from qiro import tenant_context
from registration.models import Application, ApplicationStatus
from sysauth.models import Role, User, UserRole
from tenants.models import Company
from tests.browser.conftest import LiveServer
from tests.conftest import PASSWORD as STAFF_PASSWORD
from tests.conftest import platform_staff as staff_user
from tests.registration.factories import PASSWORD, link_token, signup_post

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright (pip install playwright)"
).expect

TIMEOUT = 20_000  # ms for any one thing to appear
FINISHED = (Operation.Status.SUCCEEDED, Operation.Status.FAILED)


def korean_page(browser: Browser) -> Page:
    context = browser.new_context(
        locale="ko-KR", timezone_id="Asia/Seoul", viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(TIMEOUT)
    return context.new_page()


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"))


def submit(page: Page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def sign_up(page: Page, server: LiveServer, folder: Path, post: dict[str, str]) -> None:
    page.goto(server.url(path="/signup/"))
    for name, value in post.items():
        if name != "terms":
            page.fill(f"#id_{name}", value)
    page.check("#id_terms")
    # First with mistakes: a wrong check digit and passwords that differ.
    page.fill(
        "#id_business_registration_number",
        post["business_registration_number"][:-1]
        + ("0" if post["business_registration_number"][-1] != "0" else "1"),
    )
    page.fill("#id_password2", PASSWORD + "x")
    submit(page, "form button[type=submit]")
    expect(page.locator("#id_business_registration_number_error")).to_be_visible()
    expect(page.locator("ul.errors").first).to_be_visible()
    shot(page, folder, "01-signup-errors")
    page.fill("#id_business_registration_number", post["business_registration_number"])
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    submit(page, "form button[type=submit]")
    expect(page).to_have_url(server.url(path="/signup/sent/"))
    expect(page.locator("main")).to_contain_text(post["contact_email"])


def confirm_email(page: Page, server: LiveServer, folder: Path, post: dict[str, str]) -> None:
    token = link_token(mail.outbox[-1].body)
    page.goto(server.url(path=f"/signup/verify/{token}/"))
    expect(page.locator("main")).to_contain_text(
        f"{post['company_name']}의 이메일 주소를 확인하려면"
    )
    shot(page, folder, "02-email-link")
    application = Application.objects.using("owner").get(subdomain=post["subdomain"])
    assert application.status == ApplicationStatus.SUBMITTED  # opening used nothing
    submit(page, "main button.primary")
    expect(page.locator("h1")).to_have_text("이메일 주소가 확인되었습니다")


def platform_staff(browser: Browser, server: LiveServer) -> Page:
    staff = staff_user("journey-staff@qiro.example.kr")
    page = korean_page(browser)
    page.goto(server.url(path="/admin/login/"))
    page.fill("#id_username", staff.email)
    page.fill("#id_password", STAFF_PASSWORD)
    submit(page, "input[type=submit]")
    return page


def approve(staff: Page, server: LiveServer, post: dict[str, str]) -> Company:
    application = Application.objects.using("owner").get(subdomain=post["subdomain"])
    staff.goto(server.url(path=f"/admin/registration/application/{application.pk}/approve/"))
    expect(staff.locator("#content")).to_contain_text(post["company_name"])
    submit(staff, "#content form input[type=submit]")
    application.refresh_from_db()
    assert application.status == ApplicationStatus.PROVISIONED
    return Company.objects.using("owner").get(pk=application.company_id)


def portal_sign_in(page: Page, host_url: str, email: str) -> None:
    page.goto(host_url)
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    submit(page, "main form.stacked button.primary")
    expect(page.locator("p.who")).to_contain_text(email)


def assign_role(page: Page, host_url: str, company: Company) -> User:
    with tenant_context.company_context(company):
        colleague = User.objects.create_user("colleague@journey.example.kr", PASSWORD)
        member = Role.objects.get(name=Role.MEMBER)
    page.goto(host_url + "admin/sysauth/userrole/add/")
    page.click("#id_user + .select2 .select2-selection")
    page.fill(".select2-search__field", "colleague")
    page.click(".select2-results__option >> text=colleague@journey.example.kr")
    page.select_option("#id_role", value=str(member.pk))
    submit(page, "input[name=_save]")
    expect(page.locator("ul.messagelist")).to_be_visible()
    with tenant_context.company_context(company):
        assert UserRole.objects.filter(user=colleague, role=member).exists()
    return colleague


def revoke_second_browser(
    browser: Browser, page: Page, host_url: str, email: str, folder: Path
) -> None:
    other = korean_page(browser)
    portal_sign_in(other, host_url, email)
    page.goto(host_url + "accounts/sessions/")
    expect(page.locator("table.sessions tbody tr")).to_have_count(2)
    expect(page.locator("tr.current .badge")).to_have_text("현재 세션")
    shot(page, folder, "05-sessions")
    page.goto(host_url)
    with page.expect_navigation():
        page.locator("table.sessions tr:not(.current) a.button").click()
    expect(page.locator("h1")).to_have_text("이 세션을 로그아웃할까요?")
    submit(page, "main button.primary")
    expect(page.locator("table.sessions tbody tr")).to_have_count(1)
    expect(page.get_by_text("다른 모든 세션 로그아웃")).to_have_count(0)
    other.reload()
    expect(other.locator("#id_password")).to_be_visible()  # signed out at its next request
    other.context.close()


def watch_verification(staff: Page, server: LiveServer, folder: Path) -> None:
    staff.goto(server.url(path="/admin/deployments/verificationrun/"))
    submit(staff, "form[action$='/run/'] button")
    expect(staff.locator("#op-progress")).to_be_visible()
    worker = threading.Thread(
        target=run_worker, kwargs={"worker_id": "journey", "interval": 0.2, "batch": True}
    )
    worker.start()
    with translation.override("ko"):
        labels = {str(status.label): status for status in Operation.Status}
        finished = [label for label, status in labels.items() if status in FINISHED]
    try:
        # Finished either way: whether the database passes is the verification tests' matter.
        expect(staff.locator("#op-status")).to_have_text(
            re.compile("^(" + "|".join(map(re.escape, finished)) + ")$"), timeout=60_000
        )
    finally:
        worker.join(timeout=60)
    shown = labels[staff.locator("#op-status").inner_text()]
    operation = Operation.objects.using("owner").order_by("-pk").first()
    assert operation is not None
    assert operation.kind == Operation.Kind.VERIFY
    assert shown == operation.status
    if shown == Operation.Status.SUCCEEDED:
        expect(staff.locator("#op-progress")).to_have_attribute("value", "100")
    shot(staff, folder, "06-verification-done")


def test_sign_up_to_company_portal_and_operations_in_chromium(
    qiro_server: LiveServer, browser: Browser, screenshots: Path
):
    post = signup_post(company_name="주식회사 브라우저여정")
    applicant = korean_page(browser)
    sign_up(applicant, qiro_server, screenshots, post)
    confirm_email(applicant, qiro_server, screenshots, post)

    staff = platform_staff(browser, qiro_server)
    company = approve(staff, qiro_server, post)

    host_url = qiro_server.url(host=f"{post['subdomain']}.localhost")
    first = korean_page(browser)
    first.goto(host_url)
    expect(first.locator("#id_password")).to_be_visible()
    shot(first, screenshots, "03-portal-signed-out")
    portal_sign_in(first, host_url, post["admin_email"])
    expect(first.locator("main")).to_contain_text("소유자")
    expect(first.get_by_role("link", name="회사 관리")).to_be_visible()
    shot(first, screenshots, "04-portal-signed-in")

    assign_role(first, host_url, company)
    revoke_second_browser(browser, first, host_url, post["admin_email"], screenshots)
    watch_verification(staff, qiro_server, screenshots)
