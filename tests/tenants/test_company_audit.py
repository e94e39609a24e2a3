"""Company edits in the platform admin are actions: one audit row per change, old -> new.

The details (name, business registration number, plan) and each domain added,
changed or removed; posted over HTTP as platform staff, as a browser would. An
invalid form changes nothing and writes no row.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation

from qiro import tenant_context
from sysauth.models import AuditEntry
from sysauth.models_audit import AuditAction
from tenants import actions
from tenants.models import Company, Domain
from tests.registration.factories import valid_brn
from tests.tenants.test_domains import (
    cleanup,
    company_with,
    hosts_of,
    only_one_kept,
    post_company,
    primary_added,
    saved,
)

__all__ = ["cleanup"]  # the fixture, used by name


def rows_of(company: Company) -> list[AuditEntry]:
    with tenant_context.platform_context():
        return list(
            AuditEntry.objects.filter(target_type="tenants.company", target_id=str(company.pk))
            .exclude(action__in=[AuditAction.COMPANY_SUSPEND, AuditAction.COMPANY_REACTIVATE])
            .order_by("id")
        )


def the_domain(company: Company) -> Domain:
    (domain,) = Domain.objects.using("owner").filter(tenant=company)
    return domain


def test_a_change_of_details_writes_one_row_with_old_and_new(staff_client: Client, cleanup):
    company = company_with("ca-a.localhost")
    row = {"id": the_domain(company).pk, "domain": "ca-a.localhost", "is_primary": True}
    brn = valid_brn()
    saved(staff_client, company, [row], name="새 이름 회사", business_registration_number=brn)
    (entry,) = rows_of(company)
    assert entry.action == AuditAction.COMPANY_UPDATE
    assert entry.acting_email == "platform-staff@qiro.example.kr"
    assert entry.details == {
        "changes": {
            "name": {"old": company.name, "new": "새 이름 회사"},
            "business_registration_number": {
                "old": company.business_registration_number,
                "new": brn,
            },
        }
    }
    with tenant_context.owner_context():
        company.refresh_from_db()
    assert (company.name, company.business_registration_number) == ("새 이름 회사", brn)
    # Saved again unchanged: nothing changed, nothing recorded.
    saved(staff_client, company, [row])
    assert len(rows_of(company)) == 1


def test_an_invalid_form_writes_no_row(staff_client: Client, cleanup):
    company = company_with("ca-b.localhost")
    row = {"id": the_domain(company).pk, "domain": "ca-b.localhost", "is_primary": True}
    bad_brn = post_company(
        staff_client, company, [row], name="바뀌면 안 됨", business_registration_number="1234567890"
    )
    assert bad_brn.status_code == 200
    bad_domain = {**row, "domain": "a..b.kr"}
    assert post_company(staff_client, company, [bad_domain], name="바뀌면 안 됨").status_code == 200
    assert rows_of(company) == []
    with tenant_context.owner_context():
        assert Company.objects.get(pk=company.pk).name == company.name
    assert hosts_of(company) == {"ca-b.localhost": True}


def test_each_domain_added_changed_or_removed_writes_one_row(staff_client: Client, cleanup):
    company = company_with("ca-c.localhost")
    first = the_domain(company)
    primary_added(staff_client, company, first, "www.ca-c.co.kr")
    (entry,) = rows_of(company)
    assert entry.action == AuditAction.DOMAIN_ADD
    assert entry.details == {
        "changes": {
            "domain": {"old": None, "new": "www.ca-c.co.kr"},
            "is_primary": {"old": None, "new": True},
        }
    }
    only_one_kept(staff_client, company, first, "ca-c2.localhost", removed="www.ca-c.co.kr")
    assert hosts_of(company) == {"ca-c2.localhost": True}
    change, removal = rows_of(company)[1:]
    assert change.action == AuditAction.DOMAIN_CHANGE
    assert change.details == {
        "changes": {
            "domain": {"old": "ca-c.localhost", "new": "ca-c2.localhost"},
            "is_primary": {"old": False, "new": True},
        }
    }
    assert removal.action == AuditAction.DOMAIN_REMOVE
    assert removal.details == {"changes": {"domain": {"old": "www.ca-c.co.kr", "new": None}}}


def test_a_refused_domain_change_writes_no_row(live_db, cleanup):
    company = company_with("ca-d.localhost", "www.ca-d.co.kr")
    primary = Domain.objects.using("owner").get(domain="ca-d.localhost")
    # The refusal read in English, whatever language an earlier test left active.
    with translation.override("en"), pytest.raises(ValidationError, match="primary"):
        actions.remove_domain(domain=primary, acting_user=None)
    assert rows_of(company) == []
    assert hosts_of(company) == {"ca-d.localhost": True, "www.ca-d.co.kr": False}


def test_the_platform_log_names_the_changes_in_korean_and_english(staff_client: Client, cleanup):
    company = company_with("ca-e.localhost")
    actions.update_company(company=company, acting_user=None, name="라벨 회사")
    actions.add_domain(company=company, domain="www.ca-e.co.kr", acting_user=None)
    for language, labels in (
        ("en", ("Company details changed", "Domain added")),
        ("ko", ("회사 정보 변경", "도메인 추가")),
    ):
        page = staff_client.get(
            "/admin/sysauth/auditentry/", HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE=language
        ).content.decode()
        for label in labels:
            assert label in page, (language, label)
