"""Writes on a company's users (run as the runtime role, in the company's context)."""

from __future__ import annotations

from django.db import transaction

from sysauth.models import User, UserType


def create_first_administrator(*, email: str, full_name: str, password_hash: str) -> User:
    """The company's first user: its owner, signing in with the password chosen at sign-up.

    Takes the password hash captured at sign-up; the plain password is never stored.
    Must run inside the company's context (``qiro.tenant_context.company_context``).
    """
    with transaction.atomic():
        user = User(
            email=User.objects.normalize_email(email).lower(),
            full_name=full_name,
            user_type=UserType.OWNER,
            is_staff=True,
            is_superuser=True,
            password=password_hash,
        )
        user.save()
    return user
