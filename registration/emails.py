"""The e-mails of the sign-up: verification link, approval, rejection.

Rendered in the applicant's language from ``templates/registration/email/``
and sent with Django's e-mail framework (console or file locally, SMTP from
the environment).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation


def send(template: str, *, to: str, language: str, context: dict[str, Any]) -> None:
    with translation.override(language or settings.LANGUAGE_CODE):
        subject = render_to_string(f"registration/email/{template}_subject.txt", context)
        body = render_to_string(f"registration/email/{template}_body.txt", context)
    send_mail(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [to])
