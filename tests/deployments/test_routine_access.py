"""Who may read the routine's reports: platform staff with the right, nobody else.

The report rows name every company's actors (their e-mail addresses), so a
company's runtime session must not read them, nor reach the downloads.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connections, transaction
from django.test import Client
from django.utils import timezone
from psycopg import sql

from deployments.models import PermissionReport, PermissionReportRow
from deployments.routine.reports import build_permission_report
from qiro import tenant_context
from sysauth.models import User
from tests.conftest import PASSWORD, admin_sign_in

REPORTS = "/admin/deployments/permissionreport/"


@pytest.fixture
def report(live_db, two_companies):
    made = build_permission_report(start=timezone.now() - timedelta(days=30), end=timezone.now())
    PermissionReportRow.objects.using("owner").create(
        report=made, company_id=two_companies[0].company.pk, schema_name="acme",
        company_name="에이크미 주식회사", operation="INSERT", table_name="sysauth_userrole",
        role_name="admin", actor_email="secret-actor@acme.example.kr", count=1,
    )  # fmt: skip
    yield made
    PermissionReport.objects.using("owner").filter(pk=made.pk).delete()


ROUTINE_TABLES = ["deployments_permissionreportrow", "deployments_figuressnapshot"]


@pytest.mark.parametrize("table", ROUTINE_TABLES)
def test_a_company_session_cannot_read_the_routine_records(report, two_companies, table):
    """Attack: a company's runtime session reads the platform's report rows by raw SQL."""
    statement = sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier("public", table))
    with (
        tenant_context.company_context(two_companies[1].company),
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(),
        connections["default"].cursor() as cursor,
    ):
        cursor.execute(statement)
    tenant_context.clear()


def signed_in(email: str, *, superuser: bool) -> Client:
    with tenant_context.owner_context():
        user, _ = User.objects.get_or_create(
            email=email, defaults={"is_staff": True, "is_superuser": superuser, "full_name": "직원"}
        )
        user.set_password(PASSWORD)
        user.save()
    client = Client()
    response = admin_sign_in(client, "localhost", email)
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_the_downloads_need_a_platform_sign_in_with_the_right_to_view(report, two_companies, kind):
    """Attack: fetch a report's download anonymously, from a company host, and as staff
    without the right to view reports."""
    url = f"{REPORTS}{report.pk}/download.{kind}"
    anonymous = Client().get(url, HTTP_HOST="localhost")
    assert anonymous.status_code == 302
    assert "/admin/login/" in anonymous["Location"]

    company_host = f"{two_companies[0].company.schema_name}.localhost"
    owner = Client()  # the company's owner, signed in on its own host
    signed = admin_sign_in(owner, company_host, two_companies[0].owner.email)
    assert signed.status_code == 302
    on_company = owner.get(url, HTTP_HOST=company_host)
    assert on_company.status_code in (302, 404)
    assert b"secret-actor" not in on_company.content

    staff = signed_in("no-reports@qiro.example.kr", superuser=False)
    refused = staff.get(url, HTTP_HOST="localhost")
    assert refused.status_code == 403
    assert b"secret-actor" not in refused.content

    allowed = signed_in("reports@qiro.example.kr", superuser=True).get(url, HTTP_HOST="localhost")
    assert allowed.status_code == 200
