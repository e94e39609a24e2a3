"""``applications``: list (newest first, keyset), approve, reject with a reason."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Router

from api.auth import AUTH
from api.pagination import PageQuery, decode_cursor, keyset_page, page_limit
from api.platform.access import require_staff
from api.platform.schemas import ApplicationOut, ApplicationPage, Reason
from api.problems import ApiProblem
from registration import actions
from registration.admin import company_site_url
from registration.models import Application, ApplicationStatus

router = Router(tags=["applications"], auth=AUTH)
CHANGE = "registration.change_application"


class ApplicationFilters(PageQuery):
    status: ApplicationStatus | None = None


def application_out(a: Application) -> dict[str, Any]:
    return {
        "id": a.pk, "company_name": a.company_name,
        "business_registration_number": a.business_registration_number,
        "subdomain": a.subdomain, "contact_email": a.contact_email, "status": a.status,
        "submitted_at": a.submitted_at, "decided_at": a.decided_at,
        "rejection_reason": a.rejection_reason, "company_id": a.company_id,
    }  # fmt: skip


def _get(application_id: uuid.UUID) -> Application:
    found = Application.objects.filter(pk=application_id).first()
    if found is None:
        raise ApiProblem("not-found")
    return found


@router.get("", response=ApplicationPage, summary="Applications, newest first")
def list_applications(request: HttpRequest, filters: Query[ApplicationFilters]) -> dict[str, Any]:
    require_staff(request, scope="platform:read", permission="registration.view_application")
    limit = page_limit(filters.limit)
    rows = Application.objects.order_by("-submitted_at", "-id")
    if filters.status is not None:
        rows = rows.filter(status=filters.status)
    if filters.cursor:
        at, pk = decode_cursor(filters.cursor, (dt.datetime, str))
        rows = rows.filter(Q(submitted_at__lte=at) & (Q(submitted_at__lt=at) | Q(id__lt=_uuid(pk))))
    return keyset_page(
        rows[: limit + 1],
        limit=limit,
        item=application_out,
        cursor=lambda a: (a.submitted_at, str(a.pk)),
    )


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise ApiProblem("invalid-cursor") from error


@router.post("/{application_id}/approve", response=ApplicationOut, summary="Approve")
def approve(request: HttpRequest, application_id: uuid.UUID) -> dict[str, Any]:
    """Provisions the company (retry the same call if provisioning failed)."""
    reviewer = require_staff(request, scope="platform:write", permission=CHANGE)
    application = _get(application_id)
    try:
        actions.approve_application(
            application_id=application.pk, acting_user=reviewer,
            site_url=company_site_url(request, application.subdomain),
        )  # fmt: skip
    except actions.ReviewError as error:
        raise ApiProblem("conflict", str(error)) from error
    return application_out(_get(application_id))


@router.post("/{application_id}/reject", response=ApplicationOut, summary="Reject with a reason")
def reject(request: HttpRequest, application_id: uuid.UUID, body: Reason) -> dict[str, Any]:
    reviewer = require_staff(request, scope="platform:write", permission=CHANGE)
    application = _get(application_id)
    try:
        actions.reject_application(
            application_id=application.pk, acting_user=reviewer, reason=body.reason
        )
    except actions.ReviewError as error:
        raise ApiProblem("conflict", str(error)) from error
    return application_out(_get(application_id))
