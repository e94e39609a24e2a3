"""The sign-up form: every field validated and normalised, errors next to the field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from registration import selectors
from registration.services import SignupData
from sysauth.models import User
from tenants.validators import (
    format_brn,
    normalize_brn,
    normalize_phone,
    normalize_subdomain,
    subdomain_candidates,
)


class SignupForm(forms.Form):
    company_name = forms.CharField(label=_("Company name"), max_length=200)
    business_registration_number = forms.CharField(
        label=_("Business registration number"),
        max_length=20,
        help_text=_("10 digits, with or without dashes (123-45-67890)."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    representative_name = forms.CharField(label=_("Representative's name"), max_length=100)
    business_type = forms.CharField(
        label=_("Business type and category"),
        max_length=200,
        help_text=_("As on the registration certificate, e.g. 서비스업 / 소프트웨어 개발."),
    )
    address = forms.CharField(label=_("Business address"), max_length=300)
    contact_email = forms.EmailField(
        label=_("Contact e-mail"),
        help_text=_("We send the verification link and our decision here."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    subdomain = forms.CharField(
        label=_("Sub-domain"),
        max_length=63,
        required=False,
        help_text=_(
            "Your site's address, e.g. hanbit.%(domain)s. Leave it empty and we suggest one."
        ),
    )
    admin_full_name = forms.CharField(label=_("Administrator's name"), max_length=150)
    admin_email = forms.EmailField(
        label=_("Administrator's e-mail"),
        help_text=_("The first administrator signs in with this address."),
    )
    password1 = forms.CharField(
        label=_("Administrator's password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    terms = forms.BooleanField(
        label=_("I accept the terms of service and the processing of the data above."),
        error_messages={"required": _("Please accept the terms to sign up.")},
    )

    def __init__(self, *args: Any, base_domain: str = "localhost", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["subdomain"].help_text = self.fields["subdomain"].help_text % {
            "domain": base_domain
        }

    def clean_business_registration_number(self) -> str:
        return normalize_brn(self.cleaned_data["business_registration_number"])

    def clean_phone(self) -> str:
        return normalize_phone(self.cleaned_data["phone"])

    def clean_subdomain(self) -> str:
        value = self.cleaned_data.get("subdomain", "")
        return normalize_subdomain(value) if value.strip() else ""

    def clean_admin_email(self) -> str:
        return str(self.cleaned_data["admin_email"]).lower()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password1, password2 = data.get("password1"), data.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords differ."))
        elif password1:
            candidate = User(
                email=data.get("admin_email", ""), full_name=data.get("admin_full_name", "")
            )
            try:
                password_validation.validate_password(password1, user=candidate)
            except ValidationError as error:
                self.add_error("password1", error)
        brn = data.get("business_registration_number")
        if brn:
            if not data.get("subdomain") and "subdomain" not in self.errors:
                data["subdomain"] = self._suggest_subdomain(data.get("company_name", ""), brn)
            subdomain = data.get("subdomain")
            found = selectors.availability(brn=brn, subdomain=subdomain or "")
            if found.brn_taken:
                self.add_error(
                    "business_registration_number",
                    _(
                        "An application or a company with the business registration number "
                        "%(brn)s already exists."
                    )
                    % {"brn": format_brn(brn)},
                )
            if subdomain and found.subdomain_taken:
                self.add_error(
                    "subdomain", _("This sub-domain is already taken; please choose another.")
                )
        return data

    @staticmethod
    def _suggest_subdomain(company_name: str, brn: str) -> str:
        for candidate in subdomain_candidates(company_name, brn):
            if selectors.subdomain_is_free(candidate):
                return candidate
        return ""

    def signup_data(self) -> SignupData:
        d = self.cleaned_data
        return SignupData(
            company_name=d["company_name"].strip(),
            business_registration_number=d["business_registration_number"],
            representative_name=d["representative_name"].strip(),
            business_type=d["business_type"].strip(),
            address=d["address"].strip(),
            contact_email=d["contact_email"],
            phone=d["phone"],
            subdomain=d["subdomain"],
            admin_full_name=d["admin_full_name"].strip(),
            admin_email=d["admin_email"],
            language=(get_language() or "ko")[:8],
        )


class ResendForm(forms.Form):
    email = forms.EmailField(label=_("Contact e-mail given at sign-up"))


class VerifyForm(forms.Form):
    """The verification link opens a page; the token is used by its button (POST).

    Mail scanners that follow links with GET cannot use up the token.
    """
