"""The platform admin on the public host, as platform staff (the platform role)."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/tenants/company/",
        "/admin/sysauth/user/",
        "/admin/tenants/company/?q=베타",
    ],
)
def test_platform_pages_render_for_staff(staff_client, two_companies, path):
    response = staff_client.get(path, HTTP_HOST="localhost")
    assert response.status_code == 200


def test_platform_lists_companies_but_no_company_users(staff_client, two_companies):
    a, b = two_companies
    companies = staff_client.get("/admin/tenants/company/", HTTP_HOST="localhost").content.decode()
    assert a.company.name in companies
    assert b.company.name in companies
    users = staff_client.get("/admin/sysauth/user/", HTTP_HOST="localhost").content.decode()
    assert "platform-staff@qiro.example.kr" in users
    assert a.owner.email not in users
    assert b.member.email not in users


def test_public_pages_render_in_korean_and_english(live_db):
    client = Client()
    korean = client.get("/", HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ko")
    english = client.get("/", HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    assert korean.status_code == english.status_code == 200
    assert 'lang="ko"' in korean.content.decode()
    assert 'lang="en"' in english.content.decode()
