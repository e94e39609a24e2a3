"""Mail to the platform staff who asked for the operations mail (``User.notify_operations``).

Sent when the caller's transaction commits, so a rolled-back incident mails
nobody; outside a transaction it is sent at once.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction

from qiro import tenant_context


def operations_staff_emails() -> list[str]:
    """Active platform staff (public, no company) who opted in."""
    from sysauth.models import User

    return list(
        User.objects.filter(
            company_id__isnull=True, is_active=True, is_staff=True, notify_operations=True
        )
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
    )


def mail_operations_staff(*, subject: str, body: str) -> int:
    """Mail each opted-in staff member (one message each, on commit); how many there are."""
    recipients = operations_staff_emails()
    if not recipients:
        return 0
    prefix = "[QIRO] "
    messages = [
        EmailMessage(prefix + subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        for address in recipients
    ]
    transaction.on_commit(
        lambda: get_connection().send_messages(messages), using=tenant_context.current_alias()
    )
    return len(recipients)
