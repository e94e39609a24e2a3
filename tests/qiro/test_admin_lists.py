"""The admin lists' cheaper pieces give exactly what Django's own would, on every admin of ours."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.utils import translation

from qiro.admin_display import QiroModelAdmin
from qiro.admin_sites import company_admin, platform_admin
from sysauth.models import User


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
