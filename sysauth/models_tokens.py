"""API tokens: how machine clients sign in, one user's each, stored only as a hash.

A token reads ``qiro_<prefix>_<secret>``: the prefix (public, unique) finds the
row, the SHA-256 of the whole token is compared with ``secret_hash`` in
constant time. The plain token is shown once, when it is issued
(``sysauth.tokens.issue_token``). Like the other company tables, the rows
carry ``company_id`` under row security; platform staff's tokens live in the
public schema without a company.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qiro.models import CompanyRecord
from sysauth.models.users import acting_user_column, composite_indexed_key


class ApiToken(CompanyRecord):
    """A named, revocable credential of one user, optionally narrowed to scopes."""

    # The (user, created) index serves it.
    user = composite_indexed_key(settings.AUTH_USER_MODEL, _("user"), related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(_("secret hash"), max_length=64, editable=False)
    # Empty: whatever the user's roles allow. Otherwise only these areas.
    scopes = ArrayField(
        models.CharField(max_length=40), verbose_name=_("scopes"), default=list, blank=True
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    # Written at most once a minute (sysauth.tokens.TOUCH_INTERVAL).
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)
    revoked_by = acting_user_column(_("revoked by"), editable=False)
    revoked_reason = models.CharField(_("reason"), max_length=200, blank=True, editable=False)

    class Meta:
        app_label = "sysauth"
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="sysauth_apitoken_user"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )
