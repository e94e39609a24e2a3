"""Review of applications in the platform admin: list, detail, approve, reject with a reason.

Decisions are ``registration.actions``; every one is a review event and an
audit row. Approve and reject always pass the confirmation page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import DatabaseError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from qiro.admin_confirm import confirmation_page, is_confirmed
from qiro.admin_display import QiroModelAdmin
from qiro.admin_sites import platform_admin
from qiro.db.secure import ProvisioningError
from registration import actions
from registration.models import Application, ReviewEvent
from sysauth.audit import acting_user_of
from tenants.validators import format_brn, host_for


class RejectionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the rejection"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("The applicant receives this text by e-mail."),
    )


class ReviewEventInline(admin.TabularInline):
    model = ReviewEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "decision", "actor", "reason")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReviewEvent]:
        # Each row shows its reviewer: joined, not fetched per row.
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def company_site_url(request: HttpRequest, subdomain: str) -> str:
    port = request.get_host().partition(":")[2]
    return f"{request.scheme}://{host_for(subdomain)}{':' + port if port else ''}/"


def _decided(
    request: HttpRequest, applications: list[Application], decide: Callable[[Application], bool]
) -> int:
    """``decide`` each application in turn; a refused one is named in a warning. How many were
    decided (``decide`` True)."""
    done = 0
    for application in applications:
        try:
            if decide(application):
                done += 1
        except actions.ReviewError as error:
            messages.warning(request, f"{application.company_name}: {error}")
    return done


@admin.register(Application, site=platform_admin)
class ApplicationAdmin(QiroModelAdmin):
    list_display = (
        "company_name",
        "brn",
        "subdomain",
        "contact_email",
        "status",
        "brn_status",
        "submitted_at",
    )
    # Dates by the period filter, which needs no query: a date hierarchy reads
    # every application's date on each page view (its years or months).
    list_filter = ("status", "brn_status", ("submitted_at", admin.DateFieldListFilter))
    search_fields = ("company_name", "business_registration_number", "contact_email", "admin_email")
    ordering = ("-submitted_at",)
    # Counted once: the total without filters is the same count when none is chosen.
    show_full_result_count = False
    inlines = [ReviewEventInline]
    actions = ["approve_selected", "reject_selected"]
    change_form_template = "registration/admin/application_change_form.html"
    fieldsets = (
        (
            _("Company"),
            {
                "fields": (
                    "company_name",
                    "business_registration_number",
                    "brn_status",
                    "brn_checked_by",
                    "representative_name",
                    "business_type",
                    "address",
                    "contact_email",
                    "phone",
                    "subdomain",
                )
            },
        ),
        (_("First administrator"), {"fields": ("admin_full_name", "admin_email")}),
        (
            _("Review"),
            {
                "fields": (
                    "status",
                    "submitted_at",
                    "email_verified_at",
                    "decided_at",
                    "reviewed_by",
                    "rejection_reason",
                    "company",
                    "language",
                    "terms_accepted_at",
                )
            },
        ),
    )

    @admin.display(
        description=_("business registration number"), ordering="business_registration_number"
    )
    def brn(self, obj: Application) -> str:
        return format_brn(obj.business_registration_number)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # A BRN typed with dashes finds the stored digits.
        digits = search_term.replace("-", "").strip()
        if digits.isdigit():
            search_term = digits
        return super().get_search_results(request, queryset, search_term)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [str(f) for _name, options in self.fieldsets for f in options["fields"]]

    # --- decisions -----------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        prefix = "registration_application"
        return [
            path("<uuid:pk>/approve/", view(self.approve_view), name=f"{prefix}_approve"),
            path("<uuid:pk>/reject/", view(self.reject_view), name=f"{prefix}_reject"),
            *super().get_urls(),
        ]

    @admin.action(description=_("Approve selected applications"))
    def approve_selected(
        self, request: HttpRequest, queryset: QuerySet[Application]
    ) -> HttpResponse | None:
        return self._confirm(request, list(queryset), "approve")

    @admin.action(description=_("Reject selected applications"))
    def reject_selected(
        self, request: HttpRequest, queryset: QuerySet[Application]
    ) -> HttpResponse | None:
        return self._confirm(request, list(queryset), "reject")

    def approve_view(self, request: HttpRequest, pk: Any) -> HttpResponse:
        return self._confirm(request, list(Application.objects.filter(pk=pk)), "approve") or (
            HttpResponseRedirect(
                reverse("platform_admin:registration_application_change", args=[pk])
            )
        )

    def reject_view(self, request: HttpRequest, pk: Any) -> HttpResponse:
        return self._confirm(request, list(Application.objects.filter(pk=pk)), "reject") or (
            HttpResponseRedirect(
                reverse("platform_admin:registration_application_change", args=[pk])
            )
        )

    def _confirm(
        self, request: HttpRequest, applications: list[Application], decision: str
    ) -> HttpResponse | None:
        """The confirmation page; on its POST (``confirm``) the decision is made."""
        if not self.has_change_permission(request):
            messages.error(request, _("You may not review applications."))
            return None
        form = RejectionForm(request.POST if is_confirmed(request) else None)
        if is_confirmed(request):
            if decision == "approve":
                self._approve(request, applications)
                return None
            if form.is_valid():
                self._reject(request, applications, form.cleaned_data["reason"])
                return None
        approving = decision == "approve"
        return confirmation_page(
            self,
            request,
            title=_("Approve applications") if approving else _("Reject applications"),
            intro=(
                _(
                    "Approving creates each company with its site, schema and first "
                    "administrator, and e-mails the applicant."
                )
                if approving
                else _(
                    "Rejecting frees the business registration number and sub-domain and "
                    "e-mails the applicant the reason."
                )
            ),
            items=[
                f"{a.company_name} — {a.subdomain} ({a.get_status_display()})" for a in applications
            ],
            selected=[a.pk for a in applications],
            confirm_label=_("Yes, approve") if approving else _("Yes, reject"),
            form=None if approving else form,
        )

    def _approve(self, request: HttpRequest, applications: list[Application]) -> None:
        def approve(application: Application) -> bool:
            try:
                actions.approve_application(
                    application_id=application.pk,
                    acting_user=acting_user_of(request),
                    site_url=company_site_url(request, application.subdomain),
                )
            except (ProvisioningError, DatabaseError) as error:
                messages.error(
                    request,
                    _(
                        "%(name)s is approved but its company could not be set up (%(error)s); "
                        "nothing was kept. Approve it again to retry."
                    )
                    % {"name": application.company_name, "error": error},
                )
                return False
            return True

        done = _decided(request, applications, approve)
        if done:
            messages.success(
                request,
                ngettext(
                    "%(count)d application approved; its company is ready.",
                    "%(count)d applications approved; their companies are ready.",
                    done,
                )
                % {"count": done},
            )

    def _reject(self, request: HttpRequest, applications: list[Application], reason: str) -> None:
        def reject(application: Application) -> bool:
            actions.reject_application(
                application_id=application.pk, acting_user=acting_user_of(request), reason=reason
            )
            return True

        done = _decided(request, applications, reject)
        if done:
            messages.success(
                request,
                ngettext(
                    "%(count)d application rejected; the applicant was told why.",
                    "%(count)d applications rejected; the applicants were told why.",
                    done,
                )
                % {"count": done},
            )

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        obj = context.get("original")
        context["can_approve"] = obj is not None and obj.status in actions.APPROVABLE
        context["can_reject"] = obj is not None and obj.status in actions.REJECTABLE
        return super().render_change_form(request, context, *args, **kwargs)  # fmt: skip
