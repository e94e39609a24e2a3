"""Sign-in forms with throttling, and the company admin's user form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from sysauth import hierarchy, login_throttle
from sysauth.middleware import client_ip
from sysauth.models import Role, User


class ThrottledAuthenticationForm(AuthenticationForm):
    """E-mail and password; refused for a while after too many failures.

    Failures are counted per account and per IP address in the company's own
    schema (``sysauth.LoginFailure``), so one company's attackers never lock
    out another's users.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "The e-mail address or the password is not correct. Note that the password "
            "is case-sensitive."
        ),
    }

    def __init__(self, request: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("E-mail address")

    def clean(self) -> dict[str, Any]:
        email = (self.cleaned_data.get("username") or "").strip().lower()
        ip_address = client_ip(self.request) if self.request is not None else None
        if email:
            refused = login_throttle.login_throttle_error(email=email, ip_address=ip_address)
            if refused:
                raise ValidationError(refused, code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError as error:
            if email and getattr(error, "code", None) == "invalid_login":
                login_throttle.record_login_failure(email=email, ip_address=ip_address)
            raise
        if email:
            login_throttle.clear_login_failures(email=email)
        return cleaned


class CompanyAdminAuthenticationForm(ThrottledAuthenticationForm):
    """The company admin's sign-in: for users whose roles open the admin."""

    required_css_class = "required"

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not user.has_perm(hierarchy.ADMIN_ACCESS):
            raise ValidationError(
                _("Your roles do not include the company administration. Ask an owner."),
                code="not_allowed",
            )


class PlatformAdminAuthenticationForm(ThrottledAuthenticationForm):
    """The platform admin's sign-in (public host): staff only, throttled like the others."""

    required_css_class = "required"

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise ValidationError(
                AdminAuthenticationForm.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class UserCreateForm(forms.ModelForm):
    """A new user: without a password, they receive an e-mail to choose one."""

    roles = forms.ModelMultipleChoiceField(
        label=_("roles"), queryset=Role.objects.all(), required=False
    )
    password1 = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        required=False,
        help_text=_("Leave empty to send the user an e-mail to choose a password."),
    )
    password2 = forms.CharField(
        label=_("Password confirmation"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        required=False,
    )

    class Meta:
        model = User
        fields = ("email", "full_name", "user_type")

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first or second:
            if first != second:
                self.add_error("password2", _("The two passwords do not match."))
            else:
                try:
                    validate_password(str(first), User(email=cleaned.get("email", "")))
                except ValidationError as error:
                    self.add_error("password1", error)
        return cleaned
