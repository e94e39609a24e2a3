"""Business sign-up: applications, e-mail verification tokens and review events.

All three tables live in the public schema and hold data from before a
company exists. Their row policies (``registration.policies``) give the
anonymous sign-up flow, which runs as the runtime role, the right to insert a
new application and nothing else; the platform role (staff) reads and
decides. Making or using a token, or checking that a BRN is taken, goes
through narrow SECURITY DEFINER functions (``registration.selectors``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qiro.admin_display import local_stamp
from qiro.db.fields import EnumField
from qiro.expectations import MonthlyPartitions

ACTIVE_APPLICATION = ~models.Q(status="rejected")


class ApplicationStatus(models.TextChoices):
    """Mirrors the PostgreSQL ENUM ``application_status``."""

    SUBMITTED = "submitted", _("Submitted")
    EMAIL_VERIFIED = "email_verified", _("E-mail verified")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    PROVISIONED = "provisioned", _("Provisioned")


class VerificationStatus(models.TextChoices):
    """Mirrors the PostgreSQL ENUM ``verification_status``."""

    PENDING = "pending", _("Pending")
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Rejected")
    EXPIRED = "expired", _("Expired")


class Application(models.Model):
    """A business's request for a company account, from sign-up to provisioning.

    The primary key is made by Django (UUID), so the runtime role's INSERT
    needs no RETURNING and therefore no right to read the table back.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company_name = models.CharField(_("company name"), max_length=200)
    business_registration_number = models.CharField(
        _("business registration number"), max_length=10
    )
    representative_name = models.CharField(_("representative"), max_length=100)
    business_type = models.CharField(_("business type and category"), max_length=200)
    address = models.CharField(_("address"), max_length=300)
    contact_email = models.EmailField(_("contact e-mail"))
    phone = models.CharField(_("phone"), max_length=20)
    subdomain = models.CharField(_("sub-domain"), max_length=63)
    admin_full_name = models.CharField(_("administrator's name"), max_length=150)
    admin_email = models.EmailField(_("administrator's e-mail"))
    # Hash made at sign-up (PASSWORD_HASHERS); cleared once the user exists.
    admin_password_hash = models.CharField(max_length=256, blank=True, editable=False)
    language = models.CharField(_("language"), max_length=8, default="ko")
    terms_accepted_at = models.DateTimeField(_("terms accepted"))
    status = EnumField(
        _("status"),
        enum_type="application_status",
        choices=ApplicationStatus.choices,
        default=ApplicationStatus.SUBMITTED,
    )
    brn_status = EnumField(
        _("BRN status check"),
        enum_type="verification_status",
        choices=VerificationStatus.choices,
        default=VerificationStatus.PENDING,
        help_text=_("Pending means no remote status check was made."),
    )
    brn_checked_by = models.CharField(_("BRN checked by"), max_length=100, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), default=timezone.now)
    email_verified_at = models.DateTimeField(_("e-mail verified"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    # DO_NOTHING: Django's deletion of any user (company users too, as the runtime
    # role) must not read this public table; the database's foreign key still
    # refuses to delete a reviewer.
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
    )
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    company = models.ForeignKey(
        "tenants.Company",
        verbose_name=_("company"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    # The anonymous sign-up inserts rows (policies allow nothing else).
    app_public_access = ("INSERT",)

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        ordering = ["-submitted_at"]
        constraints = [
            # One pending or active application per BRN and per sub-domain: the
            # database decides between concurrent sign-ups.
            models.UniqueConstraint(
                fields=["business_registration_number"],
                condition=ACTIVE_APPLICATION,
                name="registration_application_brn_once",
            ),
            models.UniqueConstraint(
                fields=["subdomain"],
                condition=ACTIVE_APPLICATION,
                name="registration_application_subdomain_once",
            ),
            models.CheckConstraint(
                condition=models.Q(business_registration_number__regex=r"^[0-9]{10}$"),
                name="registration_application_brn_digits",
            ),
            models.CheckConstraint(
                condition=models.Q(subdomain__regex=r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"),
                name="registration_application_subdomain_label",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "submitted_at"], name="registration_app_status"),
            # The review list, newest first (the admin adds the id to the order),
            # read from the index instead of sorting every application.
            models.Index(fields=["submitted_at", "id"], name="registration_app_submitted"),
        ]

    def __str__(self) -> str:
        return f"{self.company_name} ({self.subdomain})"


class EmailVerificationToken(models.Model):
    """A single-use e-mail verification link; only the SHA-256 of its secret is kept.

    The table is partitioned by month on ``created_at`` (raw SQL in the
    migrations; ``registration.partitions`` creates and drops partitions), so
    the partition key is part of the primary key.
    """

    pk = models.CompositePrimaryKey("id", "created_at")
    id = models.UUIDField(default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    status = EnumField(
        enum_type="verification_status",
        choices=VerificationStatus.choices,
        default=VerificationStatus.PENDING,
    )

    # No right for the runtime role: tokens are made by registration_issue_*_token.
    # This month's partition and the next must exist (maintain_token_partitions).
    database_expectations = (MonthlyPartitions(ahead=1),)

    class Meta:
        verbose_name = _("e-mail verification token")
        verbose_name_plural = _("e-mail verification tokens")

    def __str__(self) -> str:
        return f"{self.application_id} @ {local_stamp(self.created_at)}"


class ReviewEvent(models.Model):
    """Audit of every review decision: who, when, what, why."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="review_events"
    )
    decision = EnumField(
        _("decision"), enum_type="application_status", choices=ApplicationStatus.choices
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.DO_NOTHING,  # as reviewed_by
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("review event")
        verbose_name_plural = _("review events")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} @ {local_stamp(self.created_at)}"
