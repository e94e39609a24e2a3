"""The company portal at ``<sub>.<domain>/``: sign-in, who you are, roles, readable sessions.

Over HTTP as the runtime role in the company's context, as a visitor uses it.
"""

from __future__ import annotations

import datetime as dt
import re

from django.test import Client
from django.utils import timezone, translation

from qiro import tenant_context
from sysauth import display
from tests.conftest import PASSWORD
from tests.sysauth.conftest import sign_in
from tests.sysauth.test_sessions import session_row, signed_in

WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)


def portal(client: Client, host: str, language: str = "ko") -> str:
    response = client.get("/", HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def main(page: str) -> str:
    return page.split("<main>", 1)[1].split("</main>", 1)[0]


def new_user(company, email: str):
    with tenant_context.company_context(company.company):
        return type(company.member).objects.create_user(email, PASSWORD, full_name="박포털")


def test_signed_out_the_portal_shows_a_sign_in_in_korean_and_english(live_db, company):
    korean = main(portal(Client(), company.host))
    assert company.company.name in korean
    assert 'action="/accounts/login/"' in korean
    assert "계정의 이메일 주소와 비밀번호로 로그인하세요" in korean
    assert 'name="password"' in korean
    assert "/admin/" not in korean
    english = main(portal(Client(), company.host, "en"))
    assert "Sign in with the e-mail address and password" in english


def test_signing_in_from_the_portal_returns_to_it_showing_who_and_which_roles(live_db, company):
    client = Client()
    response = client.post(
        "/accounts/login/",
        {"username": company.member.email, "password": PASSWORD, "next": "/"},
        HTTP_HOST=company.host,
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    page = main(portal(client, company.host))
    assert company.member.email in page
    assert "로그인되어 있습니다" in page
    assert '<span class="badge">구성원</span>' in page
    assert 'action="/accounts/logout/"' in page
    assert "/accounts/password/" in page
    assert 'href="/admin/"' not in page  # a member's roles do not open the company admin


def test_those_allowed_get_a_link_to_the_company_admin(live_db, company):
    client = Client()
    sign_in(client, company.host, company.owner.email)
    page = main(portal(client, company.host))
    assert '<span class="badge">소유자</span>' in page
    assert 'href="/admin/"' in page


def test_sessions_read_as_browser_and_system_with_this_one_marked(live_db, company):
    user = new_user(company, "portal-devices@example.kr")
    laptop, phone = Client(HTTP_USER_AGENT=WINDOWS_CHROME), Client(HTTP_USER_AGENT=IPHONE_SAFARI)
    sign_in(laptop, company.host, user.email)
    page = main(portal(laptop, company.host))
    assert "Chrome 131 · Windows" in page
    assert "현재 세션" in page or "This session" in page
    assert "KST" in page
    # Alone, there is no "sign out all other sessions".
    assert "/accounts/sessions/sign-out-others/" not in page
    sign_in(phone, company.host, user.email)
    page = main(portal(laptop, company.host))
    assert "Mobile Safari 17 · iOS · iPhone" in page
    assert "/accounts/sessions/sign-out-others/" in page
    current = re.search(r'<tr class="current">(.*?)</tr>', page, re.S)
    assert current
    assert "Chrome 131 · Windows" in current[1]


def test_signing_out_another_session_asks_first_then_that_browser_is_signed_out(live_db, company):
    user = new_user(company, "portal-revoke@example.kr")
    laptop, phone = Client(HTTP_USER_AGENT=WINDOWS_CHROME), Client(HTTP_USER_AGENT=IPHONE_SAFARI)
    sign_in(laptop, company.host, user.email)
    sign_in(phone, company.host, user.email)
    phone_row = session_row(phone, company)
    url = f"/accounts/sessions/{phone_row.pk}/sign-out/"
    question = laptop.get(url, {"next": "/"}, HTTP_HOST=company.host).content.decode()
    assert "이 세션을 로그아웃할까요?" in question
    assert "Mobile Safari 17 · iOS · iPhone" in question
    assert signed_in(phone, company.host)  # asking changed nothing
    done = laptop.post(url, {"next": "/"}, HTTP_HOST=company.host)
    assert done.status_code == 302
    assert done["Location"] == "/"
    assert not signed_in(phone, company.host)
    assert signed_in(laptop, company.host)


def test_signing_out_all_others_asks_first_with_their_count(live_db, company):
    user = new_user(company, "portal-others@example.kr")
    here, phone, tablet = Client(), Client(HTTP_USER_AGENT=IPHONE_SAFARI), Client()
    for client in (here, phone, tablet):
        sign_in(client, company.host, user.email)
    url = "/accounts/sessions/sign-out-others/"
    question = here.get(url, HTTP_HOST=company.host).content.decode()
    assert "다른 세션 2개가 로그아웃됩니다" in question
    assert signed_in(phone, company.host)
    here.post(url, HTTP_HOST=company.host)
    assert not signed_in(phone, company.host)
    assert not signed_in(tablet, company.host)
    assert signed_in(here, company.host)


def test_the_confirmation_page_shows_nothing_of_another_users_session(live_db, company):
    """Attack (IDOR): open the sign-out question with the id of someone else's session."""
    victim = Client(HTTP_USER_AGENT=IPHONE_SAFARI, REMOTE_ADDR="198.51.100.77")
    attacker = Client()
    sign_in(victim, company.host, company.owner.email)
    sign_in(attacker, company.host, company.member.email)
    row = session_row(victim, company)
    response = attacker.get(
        f"/accounts/sessions/{row.pk}/sign-out/", HTTP_HOST=company.host, follow=True
    )
    page = response.content.decode()
    assert "198.51.100.77" not in page
    assert "iPhone" not in page
    assert "그 세션은 이미 종료되었습니다" in page
    attacker.post(f"/accounts/sessions/{row.pk}/sign-out/", HTTP_HOST=company.host)
    assert signed_in(victim, company.host)


def test_the_company_admin_lists_sessions_as_devices(live_db, company):
    owner = Client(HTTP_USER_AGENT=WINDOWS_CHROME)
    sign_in(owner, company.host, company.owner.email)
    page = owner.get("/admin/sysauth/session/", HTTP_HOST=company.host).content.decode()
    assert (
        "Chrome 131 · Windows (현재 세션)" in page or "Chrome 131 · Windows (This session)" in page
    )
    assert "KST" in page
    assert WINDOWS_CHROME not in page


def test_times_read_in_the_readers_zone_and_language():
    moment = dt.datetime(2026, 3, 9, 2, 5, tzinfo=dt.UTC)  # 11:05 in Seoul
    now = dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)
    with translation.override("ko"):
        assert display.readable_time(moment, now=now) == "3월 9일 11:05 KST"
        assert display.readable_time(moment, now=moment) == "오늘 11:05 KST"
        assert (
            display.readable_time(moment, now=now.replace(year=2027)) == "2026년 3월 9일 11:05 KST"
        )
    with translation.override("en"), timezone.override("Europe/Berlin"):
        assert display.readable_time(moment, now=now) == "Mar 9 03:05 CET"


def test_user_agents_read_as_browser_and_system():
    assert display.device_label(WINDOWS_CHROME) == "Chrome 131 · Windows"
    with translation.override("ko"):
        assert display.device_label("") == "알 수 없는 기기"


def test_the_company_admin_asks_before_ending_sessions_naming_the_devices(live_db, company):
    owner = Client()
    sign_in(owner, company.host, company.owner.email)
    phone = Client(HTTP_USER_AGENT=IPHONE_SAFARI)
    sign_in(phone, company.host, company.member.email)
    row = session_row(phone, company)
    chosen = {"action": "revoke", "_selected_action": [row.pk]}
    question = owner.post("/admin/sysauth/session/", chosen, HTTP_HOST=company.host)
    assert question.status_code == 200
    assert "Mobile Safari 17 · iOS · iPhone" in question.content.decode()
    assert signed_in(phone, company.host)
    owner.post("/admin/sysauth/session/", {**chosen, "confirm": "yes"}, HTTP_HOST=company.host)
    assert not signed_in(phone, company.host)
