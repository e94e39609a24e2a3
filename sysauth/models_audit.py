"""The audit log: one row per action, written in the action's own transaction.

One table, in two places. In ``public`` it holds the platform's actions
(approvals, suspensions, backups, deploys), written by the platform role, with
no company. In each company schema it holds that company's own actions (users,
roles, sessions), keyed by the company and guarded by both walls like the
other company tables (``row_security``). The runtime roles may read and append,
never change or remove a row (``runtime_privileges``, applied by
``qiro.db.roles``). The acting user's e-mail is kept as it was: the log
outlives the accounts it names.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from qiro.admin_display import local_stamp
from qiro.models import CompanyRecord


class AuditAction(models.TextChoices):
    """Every action that writes an audit row, named ``<area>.<verb>``."""

    APPLICATION_SUBMIT = "application.submit", _("Application submitted")
    APPLICATION_VERIFY_EMAIL = "application.verify_email", _("Applicant's e-mail address verified")
    APPLICATION_RESEND = "application.resend", _("Verification e-mail sent again")
    APPLICATION_APPROVE = "application.approve", _("Application approved")
    APPLICATION_REJECT = "application.reject", _("Application rejected")
    COMPANY_SUSPEND = "company.suspend", _("Company suspended")
    COMPANY_REACTIVATE = "company.reactivate", _("Company reactivated")
    COMPANY_UPDATE = "company.update", _("Company details changed")
    DOMAIN_ADD = "company.domain_add", _("Domain added")
    DOMAIN_CHANGE = "company.domain_change", _("Domain changed")
    DOMAIN_REMOVE = "company.domain_remove", _("Domain removed")
    BACKUP_START = "backup.start", _("Backup requested")
    BACKUP_TEST_RESTORE = "backup.test_restore", _("Test restore requested")
    BACKUP_RESTORE = "backup.restore", _("Restore over the live data requested")
    VERIFICATION_START = "verification.start", _("Verification requested")
    COMPANY_MOVE = "operation.company_move", _("Company move to another node requested")
    DEPLOY_START = "deploy.start", _("Deploy requested")
    USER_CREATE = "user.create", _("User created")
    USER_UPDATE = "user.update", _("User changed")
    USER_DEACTIVATE = "user.deactivate", _("User deactivated")
    USER_REACTIVATE = "user.reactivate", _("User reactivated")
    USER_DELETE = "user.delete", _("User deleted")
    USER_PASSWORD_RESET = "user.password_reset", _("Password reset e-mail sent")
    ROLE_SAVE = "role.save", _("Role saved")
    ROLE_PERMISSIONS = "role.permissions", _("Role permissions set")
    ROLE_DELETE = "role.delete", _("Role deleted")
    ROLE_ASSIGN = "role.assign", _("Role assigned")
    ROLE_UNASSIGN = "role.unassign", _("Role removed")
    DEFAULT_ROLES = "role.defaults", _("Default roles created")
    FIRST_ADMINISTRATOR = "user.first_administrator", _("First administrator created")
    SESSION_REVOKE = "session.revoke", _("Session ended")
    USER_SESSIONS_REVOKE = "session.revoke_user", _("User signed out everywhere")
    COMPANY_SESSIONS_REVOKE = "session.revoke_company", _("Company signed out")
    SESSION_SIGN_OUT = "session.sign_out", _("Session signed out by its user")


class AuditOutcome(models.TextChoices):
    DONE = "done", _("Done")
    QUEUED = "queued", _("Queued")
    STARTED = "started", _("Started")
    UNCHANGED = "unchanged", _("Nothing to change")


class AuditEntry(CompanyRecord):
    """Who did what to which object, when, and with what outcome.

    No foreign keys: the entry names its actor and target by id and by the
    label they had, so it survives their deletion.
    """

    created_at = models.DateTimeField(_("when"), db_default=Now())
    acting_user_id = models.BigIntegerField(_("acting user id"), null=True, blank=True)
    acting_email = models.CharField(_("acting user"), max_length=254, blank=True)
    # Named by ``AuditAction`` but without choices on the column: a new action
    # needs no migration. The admin translates the name (``action_label``).
    action = models.CharField(_("action"), max_length=64)
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_label = models.CharField(_("target"), max_length=200, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=AuditOutcome.choices, default=AuditOutcome.DONE
    )
    details = models.JSONField(_("details"), default=dict, blank=True)

    # Append-only: qiro.db.roles grants the runtime roles exactly this.
    runtime_privileges = ("SELECT", "INSERT")

    class Meta:
        app_label = "sysauth"
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at"], name="sysauth_audit_time"),
            models.Index(fields=["action", "-created_at"], name="sysauth_audit_action"),
            models.Index(fields=["acting_user_id", "-created_at"], name="sysauth_audit_actor"),
        ]

    def __str__(self) -> str:
        return f"{local_stamp(self.created_at)} {self.action_label}"

    @property
    def action_label(self) -> str:
        """The action's translated name (its code when no longer listed)."""
        labels = dict(AuditAction.choices)
        return str(labels.get(self.action, self.action))
