"""``companies``: list (keyset by id), suspend, reactivate."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Field, Query, Router

from api.auth import AUTH
from api.company.common import get_or_404
from api.pagination import PageQuery, decode_cursor, keyset_page, page_limit
from api.platform.access import require_staff
from api.platform.schemas import CompanyOut, CompanyPage, NoNul, Reason
from tenants import actions
from tenants.models import Company

router = Router(tags=["companies"], auth=AUTH)


class CompanyFilters(PageQuery):
    search: str | None = Field(default=None, max_length=100, pattern=NoNul)
    status: Company.Status | None = None


def company_out(company: Company) -> dict[str, Any]:
    return {
        "id": company.pk, "name": company.name,
        "business_registration_number": company.business_registration_number,
        "schema_name": company.schema_name, "status": company.status,
        "status_reason": company.status_reason, "plan": company.plan,
        "user_count": company.user_count, "created_at": company.created_at,
        "domains": sorted(d.domain for d in company.domains.all()),
    }  # fmt: skip


@router.get("", response=CompanyPage, summary="Companies, oldest first")
def list_companies(request: HttpRequest, filters: Query[CompanyFilters]) -> dict[str, Any]:
    require_staff(request, scope="platform:read", permission="tenants.view_company")
    limit = page_limit(filters.limit)
    companies = Company.objects.prefetch_related("domains").order_by("id")
    if filters.search:
        term = filters.search.strip()
        companies = companies.filter(
            Q(name__icontains=term) | Q(schema_name__icontains=term)
            | Q(business_registration_number=term)
        )  # fmt: skip
    if filters.status is not None:
        companies = companies.filter(status=filters.status)
    if filters.cursor:
        (after,) = decode_cursor(filters.cursor, (int,))
        companies = companies.filter(id__gt=after)
    return keyset_page(
        companies[: limit + 1], limit=limit, item=company_out, cursor=lambda c: (c.pk,)
    )


@router.post("/{company_id}/suspend", response=CompanyOut, summary="Suspend a company")
def suspend(request: HttpRequest, company_id: int, body: Reason) -> dict[str, Any]:
    """Its hosts, API and tokens included, answer nothing; its sessions end."""
    staff = require_staff(request, scope="platform:write", permission="tenants.change_company")
    company = get_or_404(Company, company_id)
    actions.suspend_company(company=company, reason=body.reason.strip(), acting_user=staff)
    return company_out(get_or_404(Company, company_id))


@router.post("/{company_id}/reactivate", response=CompanyOut, summary="Reactivate a company")
def reactivate(request: HttpRequest, company_id: int) -> dict[str, Any]:
    staff = require_staff(request, scope="platform:write", permission="tenants.change_company")
    company = get_or_404(Company, company_id)
    actions.reactivate_company(company=company, acting_user=staff)
    return company_out(get_or_404(Company, company_id))
