"""A company's domains change only through ``tenants.domains``; companies only come from approval.

The services run as the platform role (what the platform admin uses); the
admin pages are attacked over HTTP as platform staff on the public host.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone, translation
from hypothesis import given, settings
from hypothesis import strategies as st

from qiro import tenant_context
from registration.models import Application, ApplicationStatus
from tenants import domains
from tenants.models import Company, Domain

_numbers = itertools.count(1)
MARK = "dmtest"


def company_with(*hosts: str) -> Company:
    """A company row (no schema: domain rules never read one), its domains, the first primary."""
    n = next(_numbers)
    with tenant_context.owner_context():
        company = Company.objects.create(
            name=f"도메인 회사 {n}", business_registration_number=f"88{n:08d}",
            schema_name=f"{MARK}_{n}",
        )  # fmt: skip
        for i, host in enumerate(hosts):
            Domain.objects.create(domain=host, tenant=company, is_primary=i == 0)
    return company


def hosts_of(company: Company) -> dict[str, bool]:
    with tenant_context.owner_context():
        return dict(Domain.objects.filter(tenant=company).values_list("domain", "is_primary"))


@pytest.fixture
def cleanup(live_db: None) -> Iterator[None]:
    yield
    with tenant_context.owner_context():
        Company.objects.filter(schema_name__startswith=MARK).delete()
        Application.objects.filter(contact_email__endswith=f"@{MARK}.example.kr").delete()


def refused(code: str, call: Any, *args: Any, **kwargs: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.messages
    return caught.value


# --- host names ------------------------------------------------------------------------


def test_a_host_under_the_base_domain_is_one_label_following_the_sign_up_rules():
    assert domains.normalize_domain(" Acme-2.LOCALHOST. ") == "acme-2.localhost"
    refused("subdomain_reserved", domains.normalize_domain, "www.localhost")
    refused("subdomain_format", domains.normalize_domain, "2fast.localhost")
    refused("domain_depth", domains.normalize_domain, "shop.acme.localhost")
    refused("domain_platform", domains.normalize_domain, "localhost")
    refused("domain_platform", domains.normalize_domain, "127.0.0.1")


def test_a_full_domain_name_is_accepted_and_a_korean_one_is_kept_in_ascii():
    assert domains.normalize_domain("WWW.Example.co.kr") == "www.example.co.kr"
    assert domains.normalize_domain("한국.kr") == "xn--3e0b707e.kr"


@pytest.mark.parametrize(
    "host",
    [
        "", " ", ".", "a..b.kr", "-a.kr", "a-.kr", "a_b.kr", "exa mple.kr", "a\x00.kr",
        "x" * 64 + ".kr", ("a" * 60 + ".") * 5 + "kr", "example", "1.2.3.4", "example.123",
        "'; DROP TABLE tenants_domain; --.kr", "https://example.kr", "example.kr/path",
    ],
)  # fmt: skip
def test_malformed_host_names_are_refused_with_a_translated_message(host):
    error = refused(
        error_code(host), domains.normalize_domain, host
    )  # the code tells why; the message says it in Korean
    with translation.override("ko"):
        assert all(any("\uac00" <= ch <= "\ud7a3" for ch in m) for m in error.messages)


def error_code(host: str) -> str:
    return "domain_not_fqdn" if host in ("example", "1.2.3.4", "example.123") else "domain_format"


@settings(derandomize=True, database=None, max_examples=300)
@given(st.text(max_size=80))
def test_any_text_is_refused_cleanly_or_becomes_a_stable_valid_host(text):
    try:
        host = domains.normalize_domain(text)
    except ValidationError:
        return
    assert len(host) <= domains.MAX_HOST_LENGTH
    assert host.isascii()
    assert host == host.lower()
    assert domains.normalize_domain(host) == host


# --- the services ----------------------------------------------------------------------


def test_an_address_another_company_uses_is_refused(cleanup):
    a = company_with("dm-a.localhost")
    b = company_with("dm-b.localhost")
    refused("domain_taken", domains.add_domain, company=b, domain="DM-A.localhost")
    (b_domain,) = Domain.objects.using("owner").filter(tenant=b)
    refused("domain_taken", domains.change_domain, domain=b_domain, name="dm-a.localhost")
    assert hosts_of(a) == {"dm-a.localhost": True}
    assert hosts_of(b) == {"dm-b.localhost": True}


def test_two_companies_taking_one_address_at_once_get_a_clear_error(cleanup, monkeypatch):
    """Both pass the check before either writes: the unique index decides, in our words."""
    a = company_with("dm-race-a.localhost")
    b = company_with("dm-race-b.localhost")
    domains.add_domain(company=a, domain="race.example.kr")
    monkeypatch.setattr(domains, "check_domain_free", lambda **kwargs: None)
    refused("domain_taken", domains.add_domain, company=b, domain="race.example.kr")
    assert "race.example.kr" not in hosts_of(b)


def test_an_address_a_pending_application_asked_for_is_refused(cleanup):
    company = company_with("dm-c.localhost")
    with tenant_context.owner_context():
        Application.objects.create(
            company_name="신청 회사", business_registration_number="2118165793",
            representative_name="김대표", business_type="서비스업", address="서울",
            contact_email=f"c@{MARK}.example.kr", phone="010-1234-5678", subdomain="dmpending",
            admin_full_name="이관리", admin_email=f"a@{MARK}.example.kr",
            terms_accepted_at=timezone.now(), status=ApplicationStatus.EMAIL_VERIFIED,
        )  # fmt: skip
    refused("domain_reserved", domains.add_domain, company=company, domain="dmpending.localhost")
    with tenant_context.owner_context():
        Application.objects.filter(subdomain="dmpending").update(status=ApplicationStatus.REJECTED)
    domains.add_domain(company=company, domain="dmpending.localhost")
    assert hosts_of(company)["dmpending.localhost"] is False


def test_a_company_has_exactly_one_primary_domain_whatever_is_changed(cleanup):
    company = company_with("dm-d.localhost")
    added = domains.add_domain(company=company, domain="www.dm-d.co.kr", is_primary=True)
    assert hosts_of(company) == {"dm-d.localhost": False, "www.dm-d.co.kr": True}
    old = Domain.objects.using("owner").get(domain="dm-d.localhost")
    domains.change_domain(domain=old, is_primary=True)
    assert hosts_of(company) == {"dm-d.localhost": True, "www.dm-d.co.kr": False}
    refused("domain_primary_needed", domains.change_domain, domain=old, is_primary=False)
    refused("domain_primary_needed", domains.remove_domain, domain=old)
    domains.remove_domain(domain=added)
    assert hosts_of(company) == {"dm-d.localhost": True}


def test_the_first_domain_of_a_company_becomes_its_primary(cleanup):
    company = company_with()
    domains.add_domain(company=company, domain="first.dm-e.co.kr")
    assert hosts_of(company) == {"first.dm-e.co.kr": True}


# --- the platform admin ----------------------------------------------------------------


def company_url(company: Company) -> str:
    return f"/admin/tenants/company/{company.pk}/change/"


def post_company(client: Client, company: Company, rows: list[dict[str, Any]], **fields: str):
    """The company page's form as a browser posts it: its fields and its domain rows."""
    existing = Domain.objects.using("owner").filter(tenant=company).count()
    data: dict[str, Any] = {
        "name": company.name,
        "business_registration_number": company.business_registration_number,
        "plan": company.plan,
        "domains-TOTAL_FORMS": len(rows),
        "domains-INITIAL_FORMS": existing,
        "domains-MIN_NUM_FORMS": 0,
        "domains-MAX_NUM_FORMS": 1000,
        "_save": "Save",
        **fields,
    }
    for i, row in enumerate(rows):
        data[f"domains-{i}-tenant"] = company.pk
        data[f"domains-{i}-domain"] = row["domain"]
        if "id" in row:
            data[f"domains-{i}-id"] = row["id"]
        for flag in ("is_primary", "DELETE"):
            if row.get(flag):
                data[f"domains-{i}-{flag}"] = "on"
    return client.post(company_url(company), data, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")


def saved(client: Client, company: Company, rows: list[dict[str, Any]], **fields: str) -> None:
    """The company page posted and saved (redirected to the list)."""
    response = post_company(client, company, rows, **fields)
    assert response.status_code == 302, response.content.decode()[:2000]


def primary_added(client: Client, company: Company, existing: Domain, host: str) -> None:
    """The company page saved with ``host`` added as the primary domain beside ``existing``."""
    rows = [{"id": existing.pk, "domain": existing.domain}, {"domain": host, "is_primary": True}]
    saved(client, company, rows)


def only_one_kept(client: Client, company: Company, kept: Domain, host: str, removed: str) -> None:
    """The company page saved with ``kept`` (as ``host``) the primary and ``removed`` deleted."""
    gone = Domain.objects.using("owner").get(domain=removed)
    rows = [
        {"id": kept.pk, "domain": host, "is_primary": True},
        {"id": gone.pk, "domain": removed, "DELETE": True},
    ]
    saved(client, company, rows)


def test_the_platform_admin_cannot_add_a_company_nor_save_one_as_new(staff_client, cleanup):
    company = company_with("dm-f.localhost")
    listing = staff_client.get("/admin/tenants/company/", HTTP_HOST="localhost")
    assert listing.status_code == 200
    assert "/admin/tenants/company/add/" not in listing.content.decode()
    assert staff_client.get("/admin/tenants/company/add/", HTTP_HOST="localhost").status_code == 403
    page = staff_client.get(company_url(company), HTTP_HOST="localhost").content.decode()
    assert "_saveasnew" not in page
    before = Company.objects.using("owner").count()
    (domain,) = Domain.objects.using("owner").filter(tenant=company)
    row = {"id": domain.pk, "domain": "dm-f2.localhost", "is_primary": True}
    response = post_company(staff_client, company, [row], name="복제 회사", _saveasnew="on")
    assert response.status_code == 403
    assert Company.objects.using("owner").count() == before
    assert hosts_of(company) == {"dm-f.localhost": True}


def test_domains_change_from_the_company_page_through_the_service(staff_client, cleanup):
    company = company_with("dm-g.localhost")
    (domain,) = Domain.objects.using("owner").filter(tenant=company)
    primary_added(staff_client, company, domain, "WWW.DM-G.co.kr")
    assert hosts_of(company) == {"dm-g.localhost": False, "www.dm-g.co.kr": True}
    only_one_kept(staff_client, company, domain, "dm-g.localhost", removed="www.dm-g.co.kr")
    assert hosts_of(company) == {"dm-g.localhost": True}


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("www.localhost", "This sub-domain is reserved"),
        ("a..b.kr", "Enter a host name"),
        ("dm-taken.localhost", "is already in use"),
        ("localhost", "own address, not a company"),
    ],
)
def test_an_unusable_domain_gets_a_form_error_on_the_company_page(
    staff_client, cleanup, host, message
):
    company_with("dm-taken.localhost")
    company = company_with("dm-h.localhost")
    (domain,) = Domain.objects.using("owner").filter(tenant=company)
    response = post_company(
        staff_client, company, [{"id": domain.pk, "domain": host, "is_primary": True}]
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert hosts_of(company) == {"dm-h.localhost": True}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"primary": False}, {"domain": "two.dm-i.co.kr", "is_primary": False}], "exactly one"),
        ([{"primary": True}, {"domain": "two.dm-i.co.kr", "is_primary": True}], "exactly one"),
        ([{"primary": True, "DELETE": True}], "exactly one"),
        (
            [{"primary": True}, {"domain": "two.dm-i.co.kr"}, {"domain": "TWO.dm-i.co.kr"}],
            "duplicate",
        ),
        ([{"primary": True}, {"domain": "dm-i.localhost"}], "already in use"),
    ],
)
def test_a_company_page_keeps_one_primary_domain(staff_client, cleanup, rows, message):
    company = company_with("dm-i.localhost")
    (domain,) = Domain.objects.using("owner").filter(tenant=company)
    first, *others = rows
    posted = [
        {"id": domain.pk, "domain": "dm-i.localhost", "is_primary": first["primary"],
         "DELETE": first.get("DELETE")},
        *others,
    ]  # fmt: skip
    response = post_company(staff_client, company, posted)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert hosts_of(company) == {"dm-i.localhost": True}


def test_a_malformed_business_registration_number_gets_a_form_error(staff_client, cleanup):
    company = company_with("dm-j.localhost")
    (domain,) = Domain.objects.using("owner").filter(tenant=company)
    row = {"id": domain.pk, "domain": "dm-j.localhost", "is_primary": True}
    response = post_company(staff_client, company, [row], business_registration_number="abc-\x00")
    assert response.status_code == 200
    response = post_company(staff_client, company, [row], business_registration_number="1234567890")
    assert response.status_code == 200
    assert "check digit" in response.content.decode()
    with tenant_context.owner_context():
        company.refresh_from_db()
    assert company.business_registration_number.startswith("88")
