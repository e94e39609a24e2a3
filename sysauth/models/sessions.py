"""Sessions and failed sign-ins: who is signed in where, and who tried."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qiro.db.fields import EnumField
from qiro.models import CompanyRecord
from sysauth.models.users import User, acting_user_column


class SessionStatus(models.TextChoices):
    """Mirrors the PostgreSQL ENUM ``session_status``."""

    ACTIVE = "active", _("Active")
    REVOKED = "revoked", _("Revoked")
    EXPIRED = "expired", _("Expired")
    LOGGED_OUT = "logged_out", _("Signed out")


class Session(CompanyRecord):
    """A browser session (the store of ``sysauth.sessions.db``).

    Only a SHA-256 hash of the cookie value is stored, so the table cannot be
    used to take over a session. ``last_seen_at`` is written at most once a
    minute, not on every request.
    """

    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    session_data = models.TextField(_("session data"), editable=False)
    user = models.ForeignKey(
        User,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sessions",
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("device"), max_length=400, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    status = EnumField(
        _("status"),
        enum_type="session_status",
        choices=SessionStatus.choices,
        default=SessionStatus.ACTIVE,
    )
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    revoked_by = acting_user_column(_("revoked by"))
    revoked_reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["-last_seen_at"]
        indexes = [
            # "my active sessions" and "revoke all sessions of a user"
            models.Index(
                fields=["user", "-last_seen_at"],
                condition=models.Q(status="active"),
                name="sysauth_session_active_user",
            ),
            # the clean-up command: active sessions past their expiry
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status="active"),
                name="sysauth_session_active_exp",
            ),
            # the admin's list, most recently seen first, a page at a time
            models.Index(fields=["-last_seen_at"], name="sysauth_session_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.user or '-'} · {self.ip_address or '?'} · {self.get_status_display()}"

    @property
    def is_active(self) -> bool:
        return self.status == SessionStatus.ACTIVE and self.expires_at > timezone.now()


class LoginFailure(CompanyRecord):
    """A failed sign-in, counted per account and per IP address to throttle guessing."""

    email = models.CharField(_("e-mail address"), max_length=254)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True)
    failed_at = models.DateTimeField(_("failed"), default=timezone.now)

    class Meta:
        verbose_name = _("failed sign-in")
        verbose_name_plural = _("failed sign-ins")
        indexes = [
            models.Index(fields=["email", "failed_at"], name="sysauth_loginfail_email"),
            models.Index(fields=["ip_address", "failed_at"], name="sysauth_loginfail_ip"),
        ]

    def __str__(self) -> str:
        return f"{self.email} · {self.ip_address or '?'}"
