"""Companies (one PostgreSQL schema each) and the host names that reach them."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.postgresql_backend.base import _check_schema_name

from qiro.rls import RowSecurity


class Company(TenantMixin):
    """A business (사업자) and its schema.

    Schemas are created by the provisioning service, never as a side effect
    of ``save()``/``delete()``.
    """

    class Status(models.TextChoices):
        # "provisioning": rows written, schema not yet verified or no administrator
        # yet; never served (the host shows the "not available" page).
        PROVISIONING = "provisioning", _("Being set up")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    name = models.CharField(_("company name"), max_length=200)
    business_registration_number = models.CharField(
        _("business registration number"), max_length=10, unique=True
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )

    class Plan(models.TextChoices):
        STANDARD = "standard", _("Standard")

    # django-tenants' own field, named for people (its label is the column name otherwise).
    schema_name = models.CharField(
        _("schema name"), max_length=63, unique=True, db_index=True,
        validators=[_check_schema_name],
    )  # fmt: skip
    plan = models.CharField(_("plan"), max_length=32, choices=Plan.choices, default=Plan.STANDARD)
    status_reason = models.TextField(_("reason for the status"), blank=True)
    # Kept figures, refreshed in one set-based pass (tenants.services.refresh_company_stats)
    # and at provisioning, so the admin list never reads company schemas per request.
    user_count = models.PositiveIntegerField(_("users"), default=0)
    schema_size_bytes = models.BigIntegerField(_("schema size (bytes)"), default=0)
    stats_refreshed_at = models.DateTimeField(_("figures refreshed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    auto_create_schema = False
    auto_drop_schema = False

    # The runtime role sees only its own company's row; the platform sees all.
    row_security = RowSecurity(column="id", platform="true")
    app_public_access = ("SELECT",)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]
        # The platform's list is read in this order, a page at a time.
        indexes = [models.Index(fields=["name"], name="tenants_company_name")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["provisioning", "active", "suspended"]),
                name="tenants_company_status_known",
            ),
            models.CheckConstraint(
                condition=models.Q(business_registration_number__regex=r"^[0-9]{10}$"),
                name="tenants_company_brn_digits",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Domain(DomainMixin):
    """A host name of a company's site (``<sub-domain>.<base domain>``)."""

    row_security = RowSecurity(column="tenant_id", platform="true")
    app_public_access = ("SELECT",)

    # django-tenants' own fields, named for people.
    domain = models.CharField(_("host name"), max_length=253, unique=True, db_index=True)
    tenant = models.ForeignKey(
        "tenants.Company", verbose_name=_("company"), db_index=True, related_name="domains",
        on_delete=models.CASCADE,
    )  # fmt: skip
    is_primary = models.BooleanField(_("primary"), default=True, db_index=True)

    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")

    def __str__(self) -> str:
        return self.domain
