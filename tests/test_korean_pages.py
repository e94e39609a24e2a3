"""Every admin page and public page in Korean: no message of ours left in English.

While the pages render, every lookup in the translation catalogue is watched.
A message the Korean catalogue does not translate is reported when it is one
of ours: its text appears in our own source (Python or templates). Django's
own messages and those of the libraries we use are theirs to translate.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.translation import trans_real

from tests.admin_rows import CompanyRows
from tests.conftest import CompanyWithUsers
from tests.sysauth.conftest import throwaway_company
from tests.test_admin_queries import SMALL, measure_site, owner_client

ROOT = Path(__file__).resolve().parents[1]
OURS = ("qiro", "tenants", "registration", "sysauth", "deployments", "templates")


@functools.cache
def our_source() -> str:
    """The text of our code and templates, where a message of ours is written."""
    files = [p for top in OURS for p in (ROOT / top).rglob("*") if p.suffix in (".py", ".html")]
    return "\n".join(p.read_text(encoding="utf-8") for p in files if "migrations" not in p.parts)


def ours(message: str) -> bool:
    if not re.search("[A-Za-z]{2}", message):
        return False
    source = our_source()
    return message in source or message.replace('"', '\\"') in source


@pytest.fixture
def untranslated(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The messages looked up in Korean that the catalogue gave back unchanged."""
    missed: set[str] = set()
    gettext = trans_real.DjangoTranslation.gettext
    ngettext = trans_real.DjangoTranslation.ngettext

    def watched_gettext(self: trans_real.DjangoTranslation, message: str) -> str:
        result = gettext(self, message)
        # (pgettext looks up "context\x04message"; a name kept as it is, such as
        # "QIRO", is in the catalogue with itself as its translation)
        if self.language().startswith("ko") and message not in self._catalog:  # type: ignore[attr-defined]
            missed.add(message.split("\x04", 1)[-1])
        return result

    def watched_ngettext(
        self: trans_real.DjangoTranslation, singular: str, plural: str, number: int
    ) -> str:
        result = ngettext(self, singular, plural, number)
        if self.language().startswith("ko") and (singular, 0) not in self._catalog:  # type: ignore[attr-defined]
            missed.add(singular.split("\x04", 1)[-1])
        return result

    monkeypatch.setattr(trans_real.DjangoTranslation, "gettext", watched_gettext)
    monkeypatch.setattr(trans_real.DjangoTranslation, "ngettext", watched_ngettext)
    return missed


@pytest.fixture
def korean_company(live_db: None) -> Iterator[CompanyWithUsers]:
    with throwaway_company("kopages") as made:
        yield made


def assert_all_korean(missed: set[str]) -> None:
    english = sorted(m for m in missed if ours(m))
    assert english == [], "left in English on Korean pages:\n  " + "\n  ".join(english)


def get_ok(client: Client, path: str, host: str) -> None:
    response = client.get(path, HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code in (200, 302), f"{host}{path}: {response.status_code}"
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()


def test_the_platform_admin_and_the_public_site_are_korean(
    staff_client, platform_rows, untranslated
):
    platform_rows.grow(SMALL)
    measure_site(staff_client, "platform_admin", "localhost", platform_rows.picks())
    for name in ("sysauth_user_add", "deployments_schedule_add"):
        get_ok(
            staff_client, reverse(f"platform_admin:{name}", urlconf="qiro.urls_public"), "localhost"
        )
    for path in ("/admin/", "/admin/deployments/operation/monitoring/", "/admin/password_change/"):
        get_ok(staff_client, path, "localhost")
    visitor = Client()
    for path in ("/", "/signup/", "/signup/sent/", "/signup/resend/", "/no-such-page/"):
        visitor.get(path, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ko")
    visitor.post("/signup/", {}, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ko")  # errors
    assert_all_korean(untranslated)


def test_a_companys_admin_and_portal_are_korean(korean_company, untranslated):
    bench_company = korean_company
    client = owner_client(bench_company)
    rows = CompanyRows(bench_company)
    rows.grow(SMALL)
    measure_site(client, "company_admin", bench_company.host, rows.picks())
    for name in ("sysauth_user_add", "sysauth_role_add"):
        path = reverse(f"company_admin:{name}", urlconf="qiro.urls_tenant")
        get_ok(client, path, bench_company.host)
    for path in ("/", "/admin/", "/accounts/sessions/", "/accounts/password/"):
        get_ok(client, path, bench_company.host)
    visitor = Client()
    for path in ("/", "/accounts/login/", "/accounts/password/reset/", "/no-such-page/"):
        visitor.get(path, HTTP_HOST=bench_company.host, HTTP_ACCEPT_LANGUAGE="ko")
    visitor.post(
        "/accounts/login/", {"username": "x@example.kr", "password": "wrong"},
        HTTP_HOST=bench_company.host, HTTP_ACCEPT_LANGUAGE="ko",
    )  # fmt: skip
    assert_all_korean(untranslated)


def test_the_watch_sees_a_message_of_ours_left_untranslated(untranslated):
    """The check can fail: a message of ours missing from the catalogue is caught."""
    from django.utils import translation

    with translation.override("ko"):
        translation.gettext("Largest companies (size on disk)")  # translated: not reported
        translation.gettext("Sign-ups per day (14 days)")  # translated
        translation.gettext("No such message is written anywhere")  # not ours
    assert {m for m in untranslated if ours(m)} == set()
    missing = "The figures as tables"
    with translation.override("ko"):
        parts = trans_real.translation("ko")._catalog._catalogs  # type: ignore[attr-defined]
        held = [(part, part.pop(missing)) for part in parts if missing in part]
        try:
            translation.gettext(missing)
        finally:
            for part, text in held:
                part[missing] = text
    assert {m for m in untranslated if ours(m)} == {missing}
