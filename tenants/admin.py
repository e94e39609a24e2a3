"""Companies in the platform admin: status, domains, kept figures, suspend and reactivate.

User count and schema size are columns kept by ``refresh_company_stats``; the
list never reads a company's schema. Every write is an action of
``tenants.actions`` with its audit row: the details, each domain added,
changed or removed, suspension and reactivation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from qiro.admin_actions import ActionAdmin, error_text
from qiro.admin_confirm import confirmation_page, is_confirmed
from qiro.admin_sites import platform_admin
from sysauth.audit import acting_user_of
from tenants import actions, domains, services
from tenants.admin_nodes import CitusNodesAdminMixin
from tenants.models import Company, Domain
from tenants.validators import normalize_brn


class DomainForm(forms.ModelForm):
    """One host name of the company, checked by ``tenants.domains`` as it is typed."""

    class Meta:
        model = Domain
        fields = ("domain", "is_primary")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.fields["is_primary"].initial = False  # a new row does not take over by default

    def clean_domain(self) -> str:
        name = domains.normalize_domain(self.cleaned_data["domain"])
        if self.instance.tenant_id is not None:
            keep = [self.instance.pk] if self.instance.pk else []
            domains.check_domain_free(domain=name, company=self.instance.tenant, keep=keep)
        return name

    def validate_unique(self) -> None:
        """Whether the name is free is ``clean_domain``'s question, answered in our words."""


class DomainFormSet(BaseInlineFormSet):
    """The company's rows together: exactly one primary among those that stay.

    Two rows of one name are refused by the model formset's own unique check.
    """

    def clean(self) -> None:
        super().clean()
        listed = [form for form in self.forms if form.instance.pk or form.has_changed()]
        kept = [form for form in listed if not form.cleaned_data.get("DELETE")]
        if any("domain" not in form.cleaned_data for form in kept):
            return  # a row's own error is shown beside it
        primaries = sum(bool(form.cleaned_data.get("is_primary")) for form in kept)
        if listed and primaries != 1:
            raise forms.ValidationError(_("Mark exactly one domain as the primary one."))


class DomainInline(admin.TabularInline):
    model = Domain
    form = DomainForm
    formset = DomainFormSet
    extra = 0
    fields = ("domain", "is_primary")


class CompanyForm(forms.ModelForm):
    class Meta:
        model = Company
        fields = ("name", "business_registration_number", "plan")

    def clean_business_registration_number(self) -> str:
        value = str(self.cleaned_data["business_registration_number"])
        if "business_registration_number" not in self.changed_data:
            return value
        return normalize_brn(value)


class SuspensionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the suspension"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded with the company and with its ended sessions."),
    )


@admin.register(Company, site=platform_admin)
class CompanyAdmin(CitusNodesAdminMixin, ActionAdmin):
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
    form = CompanyForm
    inlines = [DomainInline]
    actions = ["suspend_selected", "reactivate_selected", "refresh_figures", "move_to_node"]
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
        # The domain a row shows, read with the row: the primary one, else the first.
        shown = Domain.objects.filter(tenant=OuterRef("pk")).order_by("-is_primary", "pk")
        return (
            super()
            .get_queryset(request)
            .annotate(shown_domain=Subquery(shown.values("domain")[:1]))
        )

    @admin.display(description=_("domain"))
    def primary_domain(self, obj: Company) -> str:
        return getattr(obj, "shown_domain", None) or "—"

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

        return (*self.list_display, *self.citus_columns(request), open_site)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # companies come from approved applications (tenants.provisioning) only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # companies are suspended, never deleted from here

    def save_model(self, request: HttpRequest, obj: Company, form: Any, change: bool) -> None:
        """The details change through ``tenants.actions.update_company``."""
        actions.update_company(
            company=obj,
            acting_user=acting_user_of(request),
            **{field: form.cleaned_data[field] for field in actions.EDITABLE},
        )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """The domains change through ``tenants.actions``, the new primary first."""
        if formset.model is not Domain:
            super().save_formset(request, form, formset, change)
            return
        company = form.instance
        kept = [f for f in formset.forms if f not in formset.deleted_forms and f.has_changed()]
        kept.sort(key=lambda f: not f.cleaned_data.get("is_primary"))
        steps = [*kept[:1], *formset.deleted_forms, *kept[1:]]
        # What the admin's history entry of this change lists (formset.save() sets them).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for row in steps:
            try:
                self._save_domain(company, formset, row, acting_user_of(request))
            except ValidationError as error:
                messages.error(request, error_text(error))

    @staticmethod
    def _save_domain(company: Company, formset: Any, row: Any, acting_user: Any) -> None:
        instance, data = row.instance, row.cleaned_data
        is_primary = bool(data.get("is_primary"))
        if row in formset.deleted_forms:
            if instance.pk:
                actions.remove_domain(domain=instance, acting_user=acting_user)
                formset.deleted_objects.append(instance)
        elif instance.pk:
            changed = actions.change_domain(
                domain=instance, name=data["domain"], is_primary=is_primary, acting_user=acting_user
            )
            formset.changed_objects.append((changed, row.changed_data))
        else:
            added = actions.add_domain(
                company=company,
                domain=data["domain"],
                is_primary=is_primary,
                acting_user=acting_user,
            )
            formset.new_objects.append(added)

    # --- actions -------------------------------------------------------------------

    @admin.action(description=_("Suspend selected companies"))
    def suspend_selected(
        self, request: HttpRequest, queryset: QuerySet[Company]
    ) -> HttpResponse | None:
        form = SuspensionForm(request.POST if is_confirmed(request) else None)
        return self._confirm_then(
            request,
            queryset,
            act=lambda company: actions.suspend_company(
                company=company,
                reason=form.cleaned_data["reason"],
                acting_user=acting_user_of(request),
            ),
            done=lambda count: ngettext(
                "%(count)d company suspended; its users were signed out.",
                "%(count)d companies suspended; their users were signed out.",
                count,
            ),
            form=form,
            title=_("Suspend companies"),
            intro=_(
                "A suspended company's site shows a suspended page, and all its users are "
                "signed out at once."
            ),
            confirm_label=_("Yes, suspend"),
        )

    @admin.action(description=_("Reactivate selected companies"))
    def reactivate_selected(
        self, request: HttpRequest, queryset: QuerySet[Company]
    ) -> HttpResponse | None:
        return self._confirm_then(
            request,
            queryset,
            act=lambda company: actions.reactivate_company(
                company=company, acting_user=acting_user_of(request)
            ),
            done=lambda count: ngettext(
                "%(count)d company reactivated.", "%(count)d companies reactivated.", count
            ),
            title=_("Reactivate companies"),
            intro=_("The company's site opens again; its users sign in again."),
            confirm_label=_("Yes, reactivate"),
        )

    def _confirm_then(
        self,
        request: HttpRequest,
        queryset: QuerySet[Company],
        *,
        act: Callable[[Company], bool],
        done: Callable[[int], str],
        form: forms.Form | None = None,
        **page: Any,
    ) -> HttpResponse | None:
        """Ask first; once confirmed (and ``form`` valid), ``act`` on each company and say
        how many it changed."""
        if is_confirmed(request) and (form is None or form.is_valid()):
            count = sum(act(company) for company in queryset)
            self.message_user(request, done(count) % {"count": count}, messages.SUCCESS)
            return None
        return self._confirm(request, queryset, form=form, **page)

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
        self, request: HttpRequest, queryset: QuerySet[Company], **page: Any
    ) -> HttpResponse:
        companies = list(queryset)
        return confirmation_page(
            self,
            request,
            items=[f"{c.name} ({c.get_status_display()})" for c in companies],
            selected=[c.pk for c in companies],
            **page,
        )
