"""The platform's review of applications: approve (and provision) or reject.

Each decision runs as the platform role in durable transactions on the
platform's alias, writes its audit row in ``public`` in the transaction that
makes it true (an approval's in the one that activates the company), and sends
the applicant's e-mail on commit. Which status allows which decision is said
once, here (``APPROVABLE``, ``REJECTABLE``), for the actions and the admin alike.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qiro.tenant_context import OWNER_ALIAS, PLATFORM_ALIAS, platform_context
from registration import emails
from registration.models import Application, ApplicationStatus, ReviewEvent
from sysauth import audit
from sysauth.models import User
from sysauth.models_audit import AuditAction
from tenants.models import Company
from tenants.provisioning import (
    FirstAdministrator,
    ProvisioningTimings,
    SchemaTakenError,
    provision_company,
)
from tenants.validators import host_for, schema_name_for

# An application may be approved from these (``approved``: provisioning is retried)...
APPROVABLE = frozenset({ApplicationStatus.EMAIL_VERIFIED, ApplicationStatus.APPROVED})
# ...and rejected from these.
REJECTABLE = frozenset(
    {ApplicationStatus.SUBMITTED, ApplicationStatus.EMAIL_VERIFIED, ApplicationStatus.APPROVED}
)


class ReviewError(Exception):
    """A review decision that the application's status does not allow."""


def _no_longer_possible(application: Application) -> ReviewError:
    return ReviewError(
        _("This application is %(status)s; that decision is no longer possible.")
        % {"status": application.get_status_display()}
    )


def _decide(
    *, application_id: Any, acting_user: User, decision: str, allowed: set[str], reason: str = ""
) -> Application:
    application = Application.objects.select_for_update().get(pk=application_id)
    if application.status not in allowed:
        raise _no_longer_possible(application)
    application.status = decision
    application.decided_at = timezone.now()
    application.reviewed_by = acting_user
    fields = ["status", "decided_at", "reviewed_by"]
    if decision == ApplicationStatus.REJECTED:
        application.rejection_reason = reason
        application.admin_password_hash = ""
        fields += ["rejection_reason", "admin_password_hash"]
    application.save(update_fields=fields)
    ReviewEvent.objects.create(
        application=application, decision=decision, actor=acting_user, reason=reason
    )
    return application


def _provisioning_lock(application_id: Any) -> None:
    """Serialise approvals of one application (held until the surrounding transaction ends)."""
    with connections[PLATFORM_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            [f"registration.provision:{application_id}"],
        )


def approve_application(
    *,
    application_id: Any,
    acting_user: User,
    site_url: str = "",
    timings: ProvisioningTimings | None = None,
) -> Company:
    """Approve an application whose e-mail is verified and provision its company.

    The decision is recorded first (a review event); if provisioning then fails,
    nothing of the company is kept, the application stays ``approved`` and the
    same call provisions it again, also after the process was killed midway
    (what that left is recognised by its mark and removed first). A schema of
    the company's name that no provisioning made is a ``ReviewError``: approving
    again cannot help until it is removed. On success the application becomes
    ``provisioned`` together with the company's activation and its audit row,
    its password hash is cleared, and the applicant is e-mailed on commit.
    ``site_url`` is the company's address for that e-mail (e.g.
    ``http://acme.localhost:8000/``).
    """
    with platform_context(), transaction.atomic(using=PLATFORM_ALIAS, durable=True):
        _provisioning_lock(application_id)
        status = Application.objects.values_list("status", flat=True).get(pk=application_id)
        if status == ApplicationStatus.EMAIL_VERIFIED:
            _decide(
                application_id=application_id,
                acting_user=acting_user,
                decision=ApplicationStatus.APPROVED,
                allowed={ApplicationStatus.EMAIL_VERIFIED},
            )
    # The decision is committed; provisioning runs under the same lock, retried
    # by calling this again if it fails.
    with platform_context(), transaction.atomic(using=PLATFORM_ALIAS, durable=True):
        _provisioning_lock(application_id)
        application = Application.objects.get(pk=application_id)
        if application.status != ApplicationStatus.APPROVED:
            if application.status == ApplicationStatus.SUBMITTED:
                raise ReviewError(
                    _("Only applications whose e-mail address is verified can be approved.")
                )
            raise _no_longer_possible(application)

        def mark_provisioned(company: Company) -> None:
            # Runs in the owner transaction that activates the company.
            Application.objects.filter(pk=application.pk).update(
                status=ApplicationStatus.PROVISIONED, company=company, admin_password_hash=""
            )
            ReviewEvent.objects.create(
                application_id=application.pk,
                decision=ApplicationStatus.PROVISIONED,
                actor_id=acting_user.pk,
            )
            audit.record(
                using=OWNER_ALIAS,
                action=AuditAction.APPLICATION_APPROVE,
                acting_user=acting_user,
                target=application,
                details={"company_id": company.pk, "schema_name": company.schema_name},
            )

        try:
            company = provision_company(
                name=application.company_name,
                business_registration_number=application.business_registration_number,
                schema_name=schema_name_for(application.subdomain),
                domain=host_for(application.subdomain),
                first_admin=FirstAdministrator(
                    email=application.admin_email,
                    full_name=application.admin_full_name,
                    password_hash=application.admin_password_hash,
                ),
                on_activate=mark_provisioned,
                timings=timings,
                claimant=f"application {application.pk}",
            )
        except SchemaTakenError as error:
            raise ReviewError(str(error)) from error
        context = {
            "company_name": application.company_name,
            "site_url": site_url or f"http://{host_for(application.subdomain)}/",
            "admin_email": application.admin_email,
        }
        transaction.on_commit(
            lambda: emails.send(
                "approved",
                to=application.contact_email,
                language=application.language,
                context=context,
            ),
            using=PLATFORM_ALIAS,
        )
    return company


def reject_application(*, application_id: Any, acting_user: User, reason: str) -> Application:
    """Reject an application with a reason the applicant receives; frees its BRN and sub-domain."""
    reason = reason.strip()
    if not reason:
        raise ReviewError(_("Give the reason for the rejection; the applicant receives it."))
    with platform_context(), transaction.atomic(using=PLATFORM_ALIAS, durable=True):
        _provisioning_lock(application_id)
        application = _decide(
            application_id=application_id,
            acting_user=acting_user,
            decision=ApplicationStatus.REJECTED,
            allowed=set(REJECTABLE),
            reason=reason,
        )
        transaction.on_commit(
            lambda: emails.send(
                "rejected",
                to=application.contact_email,
                language=application.language,
                context={"company_name": application.company_name, "reason": reason},
            ),
            using=PLATFORM_ALIAS,
        )
        audit.record(
            using=PLATFORM_ALIAS,
            action=AuditAction.APPLICATION_REJECT,
            acting_user=acting_user,
            target=application,
            details={"reason": reason},
        )
    return application
