"""Actions on a company's users: create, change, deactivate, delete, password reset.

Each runs as the runtime role in the company's context, in one durable
transaction on the context's alias, with its audit row; e-mails leave on
commit. Only an owner touches an owner, nobody manages a user who holds more
than they do (``sysauth.hierarchy``), and the company keeps an active owner.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.forms import PasswordResetForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _

from sysauth import hierarchy, tokens
from sysauth.actions.base import (
    Action,
    all_or_none,
    company_action,
    delete_recorded,
    refuse_removing_last_owner,
)
from sysauth.actions.roles import create_default_roles
from sysauth.actions.sessions import end_sessions
from sysauth.models import Role, Session, User, UserRole, UserType
from sysauth.models_audit import AuditAction, AuditOutcome


def create_first_administrator(*, email: str, full_name: str, password_hash: str) -> User:
    """The company's first user: its owner, signing in with the password chosen at sign-up.

    A system action (provisioning): nobody acts, so nothing is checked. Takes
    the password hash captured at sign-up; the plain password is never stored.
    Also creates the default roles if missing and gives the user the owner
    role. Must run inside the company's context
    (``qiro.tenant_context.company_context``).
    """
    with company_action(None) as action:
        user = User(
            email=User.objects.normalize_email(email).lower(),
            full_name=full_name,
            user_type=UserType.OWNER,
            is_staff=True,
            is_superuser=True,
            password=password_hash,
        )
        user.save()
        roles = create_default_roles()
        UserRole.objects.create(user=user, role=roles[Role.OWNER])
        action.record(AuditAction.FIRST_ADMINISTRATOR, target=user)
    return user


def _refuse_taken_email(email: str, *, but: User | None = None) -> None:
    users = User.objects.filter(email__iexact=email)
    if (users.exclude(pk=but.pk) if but is not None else users).exists():
        raise ValidationError({"email": _("A user with this e-mail address already exists.")})


def create_user(
    *,
    email: str,
    full_name: str,
    password: str | None,
    user_type: str = UserType.MEMBER,
    roles: Iterable[Role] = (),
    acting_user: User | None,
) -> User:
    """A new user of the company; without a password they set one through the reset e-mail.

    Each role must be one the acting user may assign, and the owner type is
    for owners to give (``sysauth.hierarchy``).
    """
    email = User.objects.normalize_email(email).lower()
    roles = list(roles)
    with company_action(acting_user) as action:
        hierarchy.ensure_may_set_user_type(acting_user=acting_user, old=None, new=user_type)
        for role in roles:
            hierarchy.ensure_may_grant_role(acting_user=acting_user, role=role)
        _refuse_taken_email(email)
        user = User(email=email, full_name=full_name, user_type=user_type)
        # Without a password: a random one nobody knows, replaced through the reset
        # e-mail (Django's reset form ignores accounts with an unusable password).
        user.set_password(password or get_random_string(48))
        user.save()
        for role in roles:
            UserRole.objects.create(user=user, role=role, assigned_by=acting_user)
        action.record(
            AuditAction.USER_CREATE,
            target=user,
            details={"user_type": user_type, "roles": sorted(r.name for r in roles)},
        )
    return user


def update_user(
    *, user: User, email: str, full_name: str, user_type: str, acting_user: User | None
) -> User:
    """Change a user's e-mail address, name or type; returns the user as stored.

    Whoever changes an account's e-mail address can reset its password, so
    any change is refused unless the acting user may manage the user (owners
    only by owners, nobody a user who holds more than they do); the owner
    type is for owners to give or take. Saving without a change is no change
    (its audit row says so).
    """
    email = User.objects.normalize_email(email).lower()
    with company_action(acting_user) as action:
        stored = User.objects.select_for_update().get(pk=user.pk)
        wanted = {"email": email, "full_name": full_name, "user_type": user_type}
        changes = {
            field: value for field, value in wanted.items() if getattr(stored, field) != value
        }
        if changes:
            hierarchy.ensure_may_manage(acting_user=acting_user, user=stored)
            hierarchy.ensure_may_set_user_type(
                acting_user=acting_user, old=stored.user_type, new=user_type
            )
            if "email" in changes:
                _refuse_taken_email(email, but=stored)
            before = {field: getattr(stored, field) for field in changes}
            for field, value in changes.items():
                setattr(stored, field, value)
            stored.save(update_fields=list(changes))
        action.record(
            AuditAction.USER_UPDATE,
            target=stored,
            outcome=AuditOutcome.DONE if changes else AuditOutcome.UNCHANGED,
            details={"before": before, "after": changes} if changes else {},
        )
    return stored


def deactivate_user(*, user: User, acting_user: User | None) -> int:
    """Deactivate a user the acting user may manage and end their sessions; never the
    last active owner. Returns the number of sessions ended."""
    with company_action(acting_user) as action:
        hierarchy.ensure_may_manage(acting_user=acting_user, user=user)
        refuse_removing_last_owner(
            user,
            _("%(user)s is the company's last owner and cannot be deactivated."),
            unless_inactive=False,
        )
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        ended = end_sessions(
            Session.objects.filter(user=user), reason="user deactivated", acting_user=acting_user
        )
        revoked = tokens.revoke_user_tokens(
            user=user, reason="user deactivated", actor_id=acting_user.pk if acting_user else None
        )
        action.record(
            AuditAction.USER_DEACTIVATE,
            target=user,
            details={"sessions_ended": ended, "tokens_revoked": revoked},
        )
    return ended


def reactivate_user(*, user: User, acting_user: User | None) -> bool:
    """Let a deactivated user sign in again (a user the acting user may manage).

    Their ended sessions and revoked tokens stay ended. False if already active.
    """
    with company_action(acting_user) as action:
        hierarchy.ensure_may_manage(acting_user=acting_user, user=user)
        changed = User.objects.filter(pk=user.pk, is_active=False).update(is_active=True)
        action.record(
            AuditAction.USER_REACTIVATE,
            target=user,
            outcome=AuditOutcome.DONE if changed else AuditOutcome.UNCHANGED,
        )
    user.is_active = True
    return bool(changed)


def _delete(user: User, action: Action) -> None:
    hierarchy.ensure_may_manage(acting_user=action.acting_user, user=user)
    refuse_removing_last_owner(
        user,
        _("%(user)s is the company's last owner and cannot be deleted."),
        unless_inactive=True,
    )
    delete_recorded(action, AuditAction.USER_DELETE, user)


def delete_user(*, user: User, acting_user: User | None) -> None:
    """Delete a user the acting user may manage; never the last active owner."""
    delete_users(users=[user], acting_user=acting_user)


def delete_users(*, users: Iterable[User], acting_user: User | None) -> int:
    """Several deletions as one: a refusal of any undoes them all. One audit row each."""
    return all_or_none(users, _delete, acting_user=acting_user)


def send_password_reset_email(
    *, user: User, request: HttpRequest, acting_user: User | None
) -> None:
    """Mail the user a link to choose a new password (also how invited users start).

    Sent for someone else only to a user the acting user may manage; the mail
    leaves when the audit row is committed.
    """
    with company_action(acting_user, history_actor=False) as action:
        hierarchy.ensure_may_manage(acting_user=acting_user, user=user)
        form = PasswordResetForm(data={"email": user.email})
        if form.is_valid():
            transaction.on_commit(
                lambda: form.save(
                    request=request,
                    use_https=request.is_secure(),
                    subject_template_name="sysauth/password_reset_subject.txt",
                    email_template_name="sysauth/password_reset_email.txt",
                ),
                using=action.using,
            )
        action.record(AuditAction.USER_PASSWORD_RESET, target=user)
