"""Permission and table names as the company admin shows them: translated, never raw codes."""

from __future__ import annotations

import re

from django.utils import translation

from qiro import tenant_context
from sysauth import display, hierarchy


def test_every_permission_a_role_can_hold_is_named_in_korean(live_db, two_companies):
    a, _b = two_companies
    with tenant_context.company_context(a.company), translation.override("ko"):
        choices = hierarchy.permission_choices()
    assert len(choices) > 20
    # English words have lowercase letters; an acronym such as "API" may stay.
    english = {code: label for code, label in choices if re.search("[a-z]{2}", label)}
    assert english == {}, english


def test_the_codes_read_from_the_models_are_the_permission_rows(live_db, two_companies):
    """``permission_codes`` (no query, for a superuser's every request) and the rows agree."""
    a, _b = two_companies
    with tenant_context.company_context(a.company):
        rows = {code for code, _label in hierarchy.permission_choices()}
    assert hierarchy.permission_codes() == rows
    assert hierarchy.ADMIN_ACCESS in rows


def test_labels_in_english_keep_djangos_wording():
    with translation.override("en"):
        assert display.permission_label("sysauth.view_session") == "Can view session"
        assert display.permission_label("nothing.at_all", "") == "nothing.at_all"


def test_history_tables_are_named_by_their_model():
    with translation.override("ko"):
        assert display.table_label("sysauth_userrole") == "역할 부여"
        assert display.table_label("no_such_table") == "no_such_table"


def test_the_permission_history_names_tables_and_permissions(live_db, two_companies):
    from django.test import Client

    from sysauth.models import Role, RolePermission
    from tests.sysauth.conftest import sign_in

    a, _b = two_companies
    with tenant_context.company_context(a.company, actor_id=a.owner.pk):
        role = Role.objects.create(name="labels-check", label="라벨 확인")
        RolePermission.objects.create(role=role, codename="sysauth.view_session")
    try:
        client = Client()
        sign_in(client, a.host, a.owner.email)
        page = client.get("/admin/sysauth/rolepermissionhistory/", HTTP_HOST=a.host)
        results = page.content.decode().split('id="result_list"', 1)[1]
        assert "세션 보기" in results
        assert "sysauth.view_session" not in results
        assert "sysauth_rolepermission" not in results
    finally:
        with tenant_context.company_context(a.company, actor_id=a.owner.pk):
            role.delete()
