"""The index's recent actions, read by a statement compiled once, show what Django's tag shows."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from qiro import tenant_context
from qiro.admin_log import RecentLogEntries
from qiro.admin_sites import QiroAdminSite
from sysauth.models import Role, User
from tests.sysauth.conftest import new_company
from tests.tenants.test_provisioning import remove_company


def recent_actions(client: Client, host: str, language: str) -> str:
    response = client.get("/admin/", HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    found = re.search(
        r'<div class="module" id="recent-actions-module">.*?</div>', response.content.decode(), re.S
    )
    assert found
    return found.group(0)


def write_entries(user: User, objects: list[Any]) -> None:
    """Every kind of entry: added, changed, deleted, a type with no admin page, no type."""
    for number, obj in enumerate(objects):
        kind = (ADDITION, CHANGE, DELETION)[number % 3]
        LogEntry.objects.create(
            user_id=user.pk, content_type=ContentType.objects.get_for_model(obj),
            object_id=str(obj.pk), object_repr=f"{obj} <{number}>", action_flag=kind,
        )  # fmt: skip
    LogEntry.objects.create(
        user_id=user.pk, content_type=ContentType.objects.get_for_model(ContentType),
        object_id="1", object_repr="a type", action_flag=CHANGE,
    )  # fmt: skip
    LogEntry.objects.create(
        user_id=user.pk, content_type=None, object_id="", object_repr="unknown", action_flag=CHANGE
    )


def compare(client: Client, host: str, monkeypatch: Any) -> None:
    for language in ("ko", "en"):
        ours = recent_actions(client, host, language)
        with monkeypatch.context() as django_only:
            django_only.setattr(QiroAdminSite, "get_log_entries", admin.AdminSite.get_log_entries)
            django_s = recent_actions(client, host, language)
        assert ours == django_s, language
        assert ours.count("<li") == 10  # the ten latest of the twelve


def test_the_platform_index_lists_the_actions_django_lists(staff_client, monkeypatch):
    with tenant_context.owner_context():
        staff = User.objects.get(email="platform-staff@qiro.example.kr")  # staff_client's
        LogEntry.objects.filter(user_id=staff.pk).delete()
        write_entries(staff, [staff] * 10)
    try:
        compare(staff_client, "localhost", monkeypatch)
    finally:
        with tenant_context.owner_context():
            LogEntry.objects.filter(user_id=staff.pk).delete()


def test_a_company_index_lists_its_own_actions_as_django_does(live_db, monkeypatch):
    from tests.test_admin_queries import owner_client

    made = new_company("recent")
    try:
        with tenant_context.company_context(made.company, actor_id=made.owner.pk):
            write_entries(made.owner, [*Role.objects.all()[:5], made.member, made.owner] * 2)
        compare(owner_client(made), made.host, monkeypatch)
    finally:
        tenant_context.clear()
        remove_company(made.company.schema_name)


def test_only_a_user_s_latest_entries_are_asked_for():
    with pytest.raises(TypeError):
        RecentLogEntries()[:10]
    with pytest.raises(TypeError):
        RecentLogEntries().filter(user__pk=1)[5:10]
