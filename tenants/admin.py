"""Companies in the platform admin: status, domains, kept figures, suspend and reactivate.

User count and schema size are columns kept by ``refresh_company_stats``; the
list never reads a company's schema.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from qiro.admin_sites import platform_admin
from tenants import services
from tenants.models import Company, Domain


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0
    fields = ("domain", "is_primary")


class SuspensionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the suspension"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded with the company and with its ended sessions."),
    )


@admin.register(Company, site=platform_admin)
class CompanyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "business_registration_number",
        "status",
        "primary_domain",
        "user_count",
        "schema_size",
        "created_at",
    )
    list_filter = ("status", "plan")
    search_fields = ("name", "business_registration_number", "schema_name", "domains__domain")
    date_hierarchy = "created_at"
    readonly_fields = (
        "schema_name",
        "status",
        "status_reason",
        "user_count",
        "schema_size",
        "stats_refreshed_at",
        "created_at",
        "updated_at",
    )
    inlines = [DomainInline]
    actions = ["suspend_selected", "reactivate_selected", "refresh_figures"]
    fieldsets = (
        (None, {"fields": ("name", "business_registration_number", "plan")}),
        (_("Status"), {"fields": ("status", "status_reason")}),
        (
            _("Database"),
            {
                "fields": (
                    "schema_name",
                    "user_count",
                    "schema_size",
                    "stats_refreshed_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Company]:
        return super().get_queryset(request).prefetch_related("domains")

    @admin.display(description=_("domain"))
    def primary_domain(self, obj: Company) -> str:
        domains = [d.domain for d in obj.domains.all() if d.is_primary] or [
            d.domain for d in obj.domains.all()
        ]
        return domains[0] if domains else "—"

    @admin.display(description=_("schema size"), ordering="schema_size_bytes")
    def schema_size(self, obj: Company) -> str:
        return str(filesizeformat(obj.schema_size_bytes))

    def get_list_display(self, request: HttpRequest) -> Any:
        # The link keeps the port the staff member uses (e.g. :8000 in development).
        port = request.get_host().partition(":")[2]
        suffix = f":{port}" if port else ""

        @admin.display(description=_("site"))
        def open_site(obj: Company) -> str:
            domain = self.primary_domain(obj)
            if domain == "—" or obj.status != Company.Status.ACTIVE:
                return "—"
            return format_html(
                '<a href="//{}{}/" target="_blank" rel="noopener">{}</a>',
                domain,
                suffix,
                _("Open site"),
            )

        return (*self.list_display, open_site)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # companies are suspended, never deleted from here

    # --- actions -------------------------------------------------------------------

    @admin.action(description=_("Suspend selected companies"))
    def suspend_selected(
        self, request: HttpRequest, queryset: QuerySet[Company]
    ) -> HttpResponse | None:
        form = SuspensionForm(request.POST if "confirm" in request.POST else None)
        if "confirm" in request.POST and form.is_valid():
            done = sum(
                services.suspend_company(company=c, reason=form.cleaned_data["reason"])
                for c in queryset
            )
            self.message_user(
                request,
                ngettext(
                    "%(count)d company suspended; its users were signed out.",
                    "%(count)d companies suspended; their users were signed out.",
                    done,
                )
                % {"count": done},
                messages.SUCCESS,
            )
            return None
        return self._confirm(request, queryset, "suspend", form)

    @admin.action(description=_("Reactivate selected companies"))
    def reactivate_selected(
        self, request: HttpRequest, queryset: QuerySet[Company]
    ) -> HttpResponse | None:
        if "confirm" in request.POST:
            done = sum(services.reactivate_company(company=c) for c in queryset)
            self.message_user(
                request,
                ngettext("%(count)d company reactivated.", "%(count)d companies reactivated.", done)
                % {"count": done},
                messages.SUCCESS,
            )
            return None
        return self._confirm(request, queryset, "reactivate", None)

    @admin.action(description=_("Refresh user counts and schema sizes"))
    def refresh_figures(self, request: HttpRequest, queryset: QuerySet[Company]) -> None:
        done = services.refresh_company_stats(companies=list(queryset))
        self.message_user(
            request,
            ngettext(
                "Figures of %(count)d company refreshed.",
                "Figures of %(count)d companies refreshed.",
                done,
            )
            % {"count": done},
            messages.SUCCESS,
        )

    def _confirm(
        self,
        request: HttpRequest,
        queryset: QuerySet[Company],
        decision: str,
        form: forms.Form | None,
    ) -> HttpResponse:
        return TemplateResponse(
            request,
            "tenants/admin/confirm_status.html",
            {
                **self.admin_site.each_context(request),
                "title": (
                    _("Suspend companies") if decision == "suspend" else _("Reactivate companies")
                ),
                "decision": decision,
                "companies": list(queryset),
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "action": request.POST.get("action", ""),
            },
        )  # fmt: skip
