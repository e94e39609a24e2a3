"""The monthly permission report: counts per company, role and actor, kept and downloadable."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
from django.utils import timezone

from deployments.models import PermissionReport
from deployments.routine.reports import build_permission_report, monthly_permission_report
from qiro import tenant_context
from sysauth.actions import ensure_default_roles
from sysauth.actions.base import acting_as
from sysauth.models import Role, User, UserRole
from tenants import schema_pool
from tenants.models import Company
from tests.conftest import english, make_company
from tests.registration.factories import unique_label, valid_brn

REPORTS = "/admin/deployments/permissionreport/"


@pytest.fixture
def two_fresh_companies(live_db):
    made = [
        make_company(unique_label("rpt"), valid_brn(), name) for name in ("가나 상사", "다라 상사")
    ]
    tenant_context.clear()
    yield made
    for one in made:
        Company.objects.using("owner").filter(pk=one.company.pk).delete()
        schema_pool.drop_schema(one.company.schema_name)


def assign(user: User, role: Role, *, by: User) -> UserRole:
    with acting_as(by):
        return UserRole.objects.create(user=user, role=role)


def make_history(a, b) -> None:
    """A: its owner gives three people the admin role, its member takes one away again.
    B: its owner gives its member the member role. Recorded by the history trigger."""
    with tenant_context.company_context(a.company):
        roles = ensure_default_roles(acting_user=None)
        extra = User.objects.create_user("extra@rpt.example.kr", "x", full_name="추가")
        for user in (a.member, a.owner, extra):
            assign(user, roles[Role.ADMIN], by=a.owner)
        with acting_as(a.member):
            UserRole.objects.filter(user=extra, role=roles[Role.ADMIN]).delete()
    with tenant_context.company_context(b.company):
        roles = ensure_default_roles(acting_user=None)
        assign(b.member, roles[Role.MEMBER], by=b.owner)
    tenant_context.clear()


def counts(report: PermissionReport, schema: str) -> dict[tuple[str, str, str, str], int]:
    return {
        (r.operation, r.table_name, r.role_name, r.actor_email): r.count
        for r in report.rows.filter(schema_name=schema)
    }


def test_the_report_counts_each_companys_changes_by_operation_role_and_actor(two_fresh_companies):
    a, b = two_fresh_companies
    make_history(a, b)
    result = monthly_permission_report(now=timezone.now() + timedelta(seconds=1))
    report = PermissionReport.objects.using("owner").first()
    assert report is not None
    assert f"#{report.pk}" in english(result)

    in_a = counts(report, a.company.schema_name)
    assert in_a[("INSERT", "sysauth_userrole", Role.ADMIN, a.owner.email)] == 3
    assert in_a[("DELETE", "sysauth_userrole", Role.ADMIN, a.member.email)] == 1
    in_b = counts(report, b.company.schema_name)
    assert in_b[("INSERT", "sysauth_userrole", Role.MEMBER, b.owner.email)] == 1
    # Isolation: each company's lines name only its own actors, under its own id and name.
    assert not {key[3] for key in in_b} & {a.owner.email, a.member.email}
    assert not {key[3] for key in in_a} & {b.owner.email, b.member.email}
    for one in (a, b):
        rows = report.rows.filter(schema_name=one.company.schema_name)
        assert set(rows.values_list("company_id", "company_name")) == {
            (one.company.pk, one.company.name)
        }
    assert report.changes == sum(report.rows.values_list("count", flat=True))


def test_changes_outside_the_period_are_not_counted(two_fresh_companies):
    a, b = two_fresh_companies
    make_history(a, b)
    later = timezone.now() + timedelta(minutes=1)
    report = build_permission_report(start=later, end=later + timedelta(days=30))
    assert not report.rows.filter(
        schema_name__in=[a.company.schema_name, b.company.schema_name]
    ).exists()


def download(client, url):
    response = client.get(url, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, response.content[:500]
    return response


def test_the_report_is_shown_and_downloads_as_csv_and_xlsx(two_fresh_companies, staff_client):
    a, b = two_fresh_companies
    make_history(a, b)
    monthly_permission_report(now=timezone.now() + timedelta(seconds=1))
    report = PermissionReport.objects.using("owner").first()
    assert report is not None

    listing = download(staff_client, REPORTS).content.decode()
    assert f"{REPORTS}{report.pk}/change/" in listing
    page = download(staff_client, f"{REPORTS}{report.pk}/change/").content.decode()
    assert "Largest changes" in page
    assert a.owner.email in page
    assert b.owner.email in page
    assert f"{report.pk}/download.csv" in page
    assert f"{report.pk}/download.xlsx" in page

    expected = ["가나 상사", a.company.schema_name, "INSERT", "sysauth_userrole", "admin",
                a.owner.email, 3]  # fmt: skip
    response = download(staff_client, f"{REPORTS}{report.pk}/download.csv")
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0] == ["Company", "Schema", "Operation", "What", "Role", "Changed by", "Changes"]
    assert [*expected[:-1], "3"] in lines
    assert len(lines) == report.rows.count() + 1

    response = download(staff_client, f"{REPORTS}{report.pk}/download.xlsx")
    assert 'filename="permission-report-' in response["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "Company"
    assert expected in rows
    assert len(rows) == report.rows.count() + 1


def test_the_report_pages_answer_in_korean(two_fresh_companies, staff_client):
    report = build_permission_report(start=timezone.now() - timedelta(days=30), end=timezone.now())
    page = staff_client.get(
        f"{REPORTS}{report.pk}/change/", HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="ko"
    ).content.decode()
    assert "가장 큰 변경" in page
    assert "CSV 내려받기" in page
