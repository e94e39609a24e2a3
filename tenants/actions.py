"""The platform's actions on companies: suspend, reactivate, change details and domains.

Each runs as the platform role in one durable transaction on the platform's
alias, with its audit row in ``public`` saying what changed (``old`` and
``new``). Suspension then ends the company's sessions in the company's own
context (its own action, with the company's own audit row), once the status
change is committed. The domain rules (valid names, never taken twice, one
primary) are ``tenants.domains``'; these actions add the audit row around them.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from qiro.tenant_context import PLATFORM_ALIAS, company_context, platform_context
from sysauth import actions as sysauth_actions
from sysauth import audit
from sysauth.models import User
from sysauth.models_audit import AuditAction, AuditOutcome
from tenants import domains
from tenants.models import Company, Domain

# What the platform admin may edit of a company (its status has actions of its own).
EDITABLE = ("name", "business_registration_number", "plan")


def _set_status(
    *, company: Company, was: str, becomes: str, reason: str, action: str, acting_user: User | None
) -> bool:
    with platform_context(), transaction.atomic(using=PLATFORM_ALIAS, durable=True):
        changed = Company.objects.filter(pk=company.pk, status=was).update(
            status=becomes, status_reason=reason, updated_at=timezone.now()
        )
        audit.record(
            using=PLATFORM_ALIAS,
            action=action,
            acting_user=acting_user,
            target=company,
            outcome=AuditOutcome.DONE if changed else AuditOutcome.UNCHANGED,
            details={"reason": reason} if reason else {},
        )
    return bool(changed)


def suspend_company(*, company: Company, reason: str, acting_user: User | None) -> bool:
    """Suspend an active company and end its users' sessions. False if it was not active.

    Its hosts then answer with the "suspended" page (``TenantContextMiddleware``);
    the sessions are revoked in the company's own context with the reason given
    (by the system there: the platform's staff are no users of the company).
    """
    changed = _set_status(
        company=company,
        was=Company.Status.ACTIVE,
        becomes=Company.Status.SUSPENDED,
        reason=reason,
        action=AuditAction.COMPANY_SUSPEND,
        acting_user=acting_user,
    )
    if changed:
        with company_context(company):
            sysauth_actions.revoke_company_sessions(reason=reason, acting_user=None)
    return changed


def reactivate_company(*, company: Company, acting_user: User | None) -> bool:
    """Make a suspended company active again. False if it was not suspended."""
    return _set_status(
        company=company,
        was=Company.Status.SUSPENDED,
        becomes=Company.Status.ACTIVE,
        reason="",
        action=AuditAction.COMPANY_REACTIVATE,
        acting_user=acting_user,
    )


def update_company(*, company: Company, acting_user: User | None, **values: Any) -> dict[str, Any]:
    """Change a company's name, business registration number or plan.

    ``values`` are the new values (of ``EDITABLE``); only those that differ
    from the stored row are written, and the audit row lists them as
    ``{field: {"old": …, "new": …}}``. Nothing changed: nothing is written.
    Returns the changes.
    """
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable here: {sorted(unknown)}")
    with platform_context(), transaction.atomic(using=PLATFORM_ALIAS, durable=True):
        stored = Company.objects.select_for_update().get(pk=company.pk)
        changes = {
            field: {"old": getattr(stored, field), "new": value}
            for field, value in values.items()
            if getattr(stored, field) != value
        }
        if not changes:
            return {}
        Company.objects.filter(pk=stored.pk).update(
            **{field: change["new"] for field, change in changes.items()},
            updated_at=timezone.now(),
        )
        company.refresh_from_db(fields=[*changes, "updated_at"])
        _record(AuditAction.COMPANY_UPDATE, company, acting_user, **changes)
    return changes


def _record(action: str, company: Company, acting_user: User | None, **changes: Any) -> None:
    """The audit row of a change of ``company``: each field changed, ``old`` and ``new``."""
    audit.record(
        using=PLATFORM_ALIAS,
        action=action,
        acting_user=acting_user,
        target=company,
        details={"changes": changes},
    )


def add_domain(
    *, company: Company, domain: str, is_primary: bool = False, acting_user: User | None
) -> Domain:
    """Give ``company`` another host name (``tenants.domains.add_domain``), audited."""
    with platform_context(), transaction.atomic(using=PLATFORM_ALIAS, durable=True):
        added = domains.add_domain(company=company, domain=domain, is_primary=is_primary)
        _record(
            AuditAction.DOMAIN_ADD,
            company,
            acting_user,
            domain={"old": None, "new": added.domain},
            is_primary={"old": None, "new": added.is_primary},
        )
    return added


def change_domain(
    *, domain: Domain, name: str, is_primary: bool, acting_user: User | None
) -> Domain:
    """Rename a host name or make it primary (``tenants.domains.change_domain``), audited."""
    with platform_context(), transaction.atomic(using=PLATFORM_ALIAS, durable=True):
        stored = Domain.objects.select_related("tenant").get(pk=domain.pk)
        changed = domains.change_domain(domain=stored, name=name, is_primary=is_primary)
        changes = {
            field: {"old": getattr(stored, field), "new": getattr(changed, field)}
            for field in ("domain", "is_primary")
            if getattr(stored, field) != getattr(changed, field)
        }
        if changes:
            _record(AuditAction.DOMAIN_CHANGE, stored.tenant, acting_user, **changes)
    return changed


def remove_domain(*, domain: Domain, acting_user: User | None) -> None:
    """Take a host name from its company (never the primary one), audited."""
    with platform_context(), transaction.atomic(using=PLATFORM_ALIAS, durable=True):
        stored = Domain.objects.select_related("tenant").filter(pk=domain.pk).first()
        if stored is None:
            return
        domains.remove_domain(domain=stored)
        _record(
            AuditAction.DOMAIN_REMOVE,
            stored.tenant,
            acting_user,
            domain={"old": stored.domain, "new": None},
        )
