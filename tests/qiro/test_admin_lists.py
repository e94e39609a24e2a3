"""The admin lists' cheaper pieces give exactly what Django's own would, on every admin of ours."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.utils import translation

from qiro import tenant_context
from qiro.admin_display import QiroModelAdmin
from qiro.admin_sites import company_admin, platform_admin
from qiro.templatetags import admin_rows
from sysauth.models import User
from tests.sysauth.conftest import new_company
from tests.tenants.test_provisioning import remove_company
from tests.test_admin_queries import SMALL, CompanyRows, owner_client, page_url, registered_pages


class Tags(HTMLParser):
    """The tags of a fragment, attributes in a fixed order, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, ...]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, *sorted(f"{k}={v}" for k, v in attrs)))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.seen.append(("text", data.strip()))


def parsed(html: str) -> list[tuple[str, ...]]:
    tags = Tags()
    tags.feed(html)
    return tags.seen


@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_action_checkbox_is_django_s_own(language):
    obj = User(pk=41, email='a&b"<c>@example.kr')
    model_admin = company_admin._registry[User]
    with translation.override(language):
        ours = model_admin.action_checkbox(obj)
        django_s = admin.ModelAdmin.action_checkbox(model_admin, obj)
    assert parsed(ours) == parsed(django_s)
    assert "&lt;c&gt;" in ours  # the object's name is escaped


def test_every_admin_of_ours_takes_the_cheaper_pieces():
    """A new admin gets them by deriving from QiroModelAdmin, which this holds it to."""
    plain = [
        f"{site.name}: {type(model_admin).__qualname__}"
        for site in (platform_admin, company_admin)
        for model_admin in site._registry.values()
        if not isinstance(model_admin, QiroModelAdmin)
        and type(model_admin).__module__.split(".")[0] in {"qiro", "sysauth", "tenants",
                                                         "registration", "deployments", "api"}
    ]  # fmt: skip
    assert not plain, plain


# --- the planned rows against Django's, on every list of both sites ---------------------

# Lists whose rows Django still writes, each with the reason.
DJANGO_WRITES: dict[tuple[str, str], str] = {}


def tbody(response: Any) -> str:
    assert response.status_code == 200
    found = re.search(r"<tbody>(.*?)</tbody>", response.content.decode(), re.S)
    assert found, "the list shows no rows"
    return found.group(1)


def compare_site(client: Client, site_name: str, host: str, monkeypatch: Any) -> None:
    planned = admin_rows.planned_rows
    taken: list[tuple[str, str]] = []

    def watched(cl: Any) -> Any:
        rows = planned(cl)
        if rows is None:
            taken.append((site_name, cl.opts.label_lower))
        return rows

    monkeypatch.setattr(admin_rows, "planned_rows", watched)
    lists = [
        page for page in registered_pages() if page[0] == site_name and page[2] == "changelist"
    ]
    assert lists
    for page in lists:
        url = page_url(page)
        for language in ("ko", "en"):
            ours = tbody(client.get(url, HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE=language))
            with monkeypatch.context() as django_only:
                django_only.setattr(admin_rows, "planned_rows", lambda cl: None)
                django_s = tbody(client.get(url, HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE=language))
            assert ours == django_s, f"{url} ({language}): the rows differ from Django's"
    expected = {key for key in DJANGO_WRITES if key[0] == site_name}
    assert set(taken) == expected, f"lists left to Django: {sorted(set(taken))}"


def test_the_platform_lists_rows_are_django_s(staff_client, platform_rows, monkeypatch):
    platform_rows.grow(SMALL)
    compare_site(staff_client, "platform_admin", "localhost", monkeypatch)


def test_a_company_s_lists_rows_are_django_s(live_db, monkeypatch):
    made = new_company("rows")
    try:
        rows = CompanyRows(made)
        rows.grow(SMALL)
        compare_site(owner_client(made), "company_admin", made.host, monkeypatch)
    finally:
        tenant_context.clear()
        remove_company(made.company.schema_name)


@pytest.mark.parametrize("language", ["ko", "en"])
def test_a_page_s_formats_write_what_django_writes(language):
    """Dates, times and numbers as ``display_for_value`` and ``formats.localize`` write them."""
    import datetime as dt
    import decimal
    from zoneinfo import ZoneInfo

    from django.contrib.admin.utils import display_for_value
    from django.utils import formats, timezone

    values = [
        dt.datetime(2026, 3, 9, 2, 5, 7, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 31, 23, 59, tzinfo=ZoneInfo("Asia/Seoul")),
        dt.datetime(2026, 11, 1, 1, 30),  # naive
        dt.date(2026, 1, 2),
        dt.time(9, 4, 0),
        0, 7, 48_485, -1_234_567, 3.25, decimal.Decimal("1234.50"), True, None, "", "글자",
        ["a", "b"],
    ]  # fmt: skip
    with translation.override(language), timezone.override("America/New_York"):
        page = admin_rows.PageFormats()
        for value in values:
            assert page.value(value, "-") == display_for_value(value, "-"), value
            if not isinstance(value, (list, type(None))):
                assert page.localize(value) == formats.localize(value), value
        assert page.number(decimal.Decimal("1234.5"), 2) == formats.number_format(
            decimal.Decimal("1234.5"), 2
        )


def test_the_rows_escape_as_django_escapes():
    from django.utils.html import conditional_escape, escape
    from django.utils.safestring import mark_safe
    from django.utils.translation import gettext_lazy

    values: list[Any] = [
        "a&b\"<c>'",
        mark_safe("<b>kept</b>"),
        gettext_lazy("Open site"),
        41,
        None,
        "글",
    ]
    for value in values:
        assert admin_rows.escape(value) == str(escape(value)), value
        assert admin_rows.escaped(value) == str(conditional_escape(value)), value


def test_a_later_page_of_users_reads_its_ids_first_and_shows_the_same_users(live_db, monkeypatch):
    """Past the first page, the ids come by themselves, then the rows: the same users,
    in the same order, as one query with the OFFSET would list, searched or not."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from sysauth.admin.users import CompanyUserAdmin

    made = new_company("pages")
    try:
        CompanyRows(made).grow(8)  # 8 users: pages 2 and 3 of 2, searched too
        monkeypatch.setattr(CompanyUserAdmin, "list_per_page", 2)
        client = owner_client(made)
        with tenant_context.company_context(made.company):
            emails = list(User.objects.order_by("email").values_list("email", flat=True))
            found = list(
                User.objects.filter(email__startswith="user")
                .order_by("email")
                .values_list("email", flat=True)
            )
        for query, expected in (("", emails), ("&q=user", found)):
            for page in (2, 3):
                with CaptureQueriesContext(connections["default"]) as seen:
                    body = tbody(
                        client.get(f"/admin/sysauth/user/?p={page}{query}", HTTP_HOST=made.host)
                    )
                shown = re.findall(r'class="field-email"><a [^>]*>([^<]+)</a>', body)
                assert shown == expected[(page - 1) * 2 : page * 2], (page, query)
                offsets = [q["sql"] for q in seen.captured_queries if "OFFSET" in q["sql"]]
                assert len(offsets) == 1
                assert offsets[0].split(" FROM ")[0].count(",") == 0  # the ids alone
    finally:
        tenant_context.clear()
        remove_company(made.company.schema_name)
