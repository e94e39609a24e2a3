"""The platform's actions on companies: suspend and reactivate.

Each runs as the platform role in one durable transaction on the platform's
alias, with its audit row in ``public``. Suspension then ends the company's
sessions in the company's own context (its own action, with the company's own
audit row), once the status change is committed.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from qiro.tenant_context import PLATFORM_ALIAS, company_context, platform_context
from sysauth import actions as sysauth_actions
from sysauth import audit
from sysauth.models import User
from sysauth.models_audit import AuditAction, AuditOutcome
from tenants.models import Company


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
