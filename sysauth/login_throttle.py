"""Sign-in throttling: failed sign-ins counted per account and per network address.

Bookkeeping of the sign-in form, not a person's action: no audit row.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from qiro import tenant_context
from sysauth import address_throttle
from sysauth.models import LoginFailure


def login_throttle_error(*, email: str, ip_address: str | None) -> str | None:
    """Why sign-in is refused for now (too many failures for the account or address), or None.

    The account and the address are counted in this company's schema; the
    address also across every company and the platform admin
    (``sysauth.address_throttle``), so a spray over many companies is stopped.
    """
    since = timezone.now() - timedelta(seconds=settings.QIRO_LOGIN_FAILURE_WINDOW)
    recent = LoginFailure.objects.filter(failed_at__gte=since)
    minutes = max(1, settings.QIRO_LOGIN_FAILURE_WINDOW // 60)
    if recent.filter(email=email.lower()).count() >= settings.QIRO_LOGIN_FAILURES_PER_ACCOUNT:
        return _(
            "Too many failed sign-ins for this account. Try again in %(minutes)d minutes "
            "or reset your password."
        ) % {"minutes": minutes}
    if ip_address and (
        recent.filter(ip_address=ip_address).count() >= settings.QIRO_LOGIN_FAILURES_PER_IP
        or address_throttle.address_is_throttled(ip_address=ip_address)
    ):
        return _(
            "Too many failed sign-ins from your network address. Try again in %(minutes)d minutes."
        ) % {"minutes": minutes}
    return None


def record_login_failure(*, email: str, ip_address: str | None) -> None:
    """One failure for the account and address here, and for the address across companies."""
    LoginFailure.objects.create(email=email.lower()[:254], ip_address=ip_address)
    if ip_address:
        address_throttle.record_address_failure(ip_address=ip_address)


def clear_login_failures(*, email: str) -> None:
    """After a successful sign-in the account starts afresh (the address does not)."""
    LoginFailure.objects.filter(email=email.lower()).delete()


def forget_old_login_failures() -> int:
    """Failures past the window, here (and across companies, when run as the platform)."""
    since = timezone.now() - timedelta(seconds=settings.QIRO_LOGIN_FAILURE_WINDOW)
    deleted, _details = LoginFailure.objects.filter(failed_at__lt=since).delete()
    if tenant_context.current_alias() == tenant_context.PLATFORM_ALIAS:
        deleted += address_throttle.forget_old_address_failures()
    return deleted
