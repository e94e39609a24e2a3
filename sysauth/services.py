"""Writes on a company's users, roles and sessions.

Everything runs as the runtime role inside the company's context (a request on
its host, or ``qiro.tenant_context.company_context``); row-level security keeps
each company to its own rows. Rules kept here:

* only an owner touches an owner, and nobody grants a permission they do not
  hold (``sysauth.hierarchy``): every role and user function takes the acting
  user, keyword-only and without a default; ``acting_user=None`` is the
  system (provisioning, commands), said so by the caller;
* a company always keeps at least one active owner (role ``owner``);
* a user holds a role at most once, and role names are unique;
* deactivating a user, changing a password and suspending the company end
  sessions at once (the next request is signed out).

Changes to role permissions and assignments are recorded by the database
trigger ``record_role_permissions_change``, with the actor set here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _

from qiro import tenant_context
from sysauth import address_throttle, hierarchy, tokens
from sysauth.hierarchy import ADMIN_ACCESS as ADMIN_ACCESS
from sysauth.hierarchy import DEFAULT_ROLES
from sysauth.hierarchy import permission_choices as permission_choices
from sysauth.models import (
    LoginFailure,
    Role,
    RolePermission,
    Session,
    SessionStatus,
    User,
    UserRole,
    UserType,
)


@contextlib.contextmanager
def acting_as(acting_user: User | None) -> Iterator[None]:
    """The permission history records ``acting_user`` for the writes of the body."""
    if acting_user is None:
        yield
        return
    previous = tenant_context.current_context().actor_id
    tenant_context.set_actor(acting_user.pk)
    try:
        yield
    finally:
        tenant_context.set_actor(previous)


# --- roles ---------------------------------------------------------------------------


def ensure_default_roles() -> dict[str, Role]:
    """Create the owner, admin and member roles with their permissions if missing.

    Existing roles are left as the company changed them.
    """
    roles: dict[str, Role] = {}
    with transaction.atomic():
        for name, (label, codenames) in DEFAULT_ROLES.items():
            role, created = Role.objects.get_or_create(name=name, defaults={"label": label})
            if created:
                RolePermission.objects.bulk_create(
                    [RolePermission(role=role, codename=c) for c in codenames]
                )
            roles[name] = role
    return roles


def _active_owner_count(owner_role: Role) -> int:
    return UserRole.objects.filter(role=owner_role, user__is_active=True).count()


def _lock_owner_role() -> Role | None:
    """Serialise every change that could remove an owner (row lock on the role)."""
    return Role.objects.select_for_update().filter(name=Role.OWNER).first()


def _already_has(user: User, role: Role) -> ValidationError:
    return ValidationError(
        {"role": _("%(user)s already has the role “%(role)s”.") % {"user": user, "role": role}}
    )


def assign_role(*, user: User, role: Role, acting_user: User | None) -> UserRole:
    """Give ``user`` the role ``role``.

    Refused: a second assignment of the same role, a user the acting user may
    not manage, and a role reaching beyond the acting user (the owner role for
    non-owners, or permissions they do not hold).
    """
    with acting_as(acting_user), transaction.atomic():
        hierarchy.ensure_may_manage(acting_user=acting_user, user=user)
        hierarchy.ensure_may_grant_role(acting_user=acting_user, role=role)
        if UserRole.objects.filter(user=user, role=role).exists():
            raise _already_has(user, role)
        try:
            with transaction.atomic():
                return UserRole.objects.create(user=user, role=role, assigned_by=acting_user)
        except IntegrityError as error:  # a concurrent assignment won the race
            raise _already_has(user, role) from error


def unassign_role(*, user: User, role: Role, acting_user: User | None) -> None:
    """Take the role away from a user the acting user may manage (owners only by owners);
    the last active owner keeps the owner role."""
    with acting_as(acting_user), transaction.atomic():
        hierarchy.ensure_may_manage(acting_user=acting_user, user=user)
        if role.name == Role.OWNER:
            _lock_owner_role()
            if user.is_active and _active_owner_count(role) <= 1:
                raise ValidationError(
                    {
                        "role": _(
                            "The company must keep at least one owner. Make another user "
                            "owner first."
                        )
                    }
                )
        deleted, _details = UserRole.objects.filter(user=user, role=role).delete()
        if not deleted:
            raise ValidationError(
                {
                    "role": _("%(user)s does not have the role “%(role)s”.")
                    % {"user": user, "role": role}
                }
            )


def set_role_permissions(*, role: Role, codenames: Iterable[str], acting_user: User | None) -> None:
    """Make the role's permissions exactly ``codenames`` (added and removed rows are recorded).

    Added permissions must exist and be held by the acting user; the owner
    role's permissions are changed by owners only.
    """
    wanted = set(codenames)
    with acting_as(acting_user), transaction.atomic():
        stored = Role.objects.select_for_update().get(pk=role.pk)
        hierarchy.ensure_may_change_role(
            acting_user=acting_user, stored=stored, new_name=stored.name
        )
        current = set(RolePermission.objects.filter(role=role).values_list("codename", flat=True))
        if wanted == current:
            return
        hierarchy.ensure_may_add_permissions(acting_user=acting_user, codenames=wanted - current)
        RolePermission.objects.filter(role=role, codename__in=current - wanted).delete()
        RolePermission.objects.bulk_create(
            [RolePermission(role=role, codename=c) for c in sorted(wanted - current)]
        )


def save_role(*, role: Role, codenames: Iterable[str], acting_user: User | None) -> Role:
    """Create or change a role (name, label, description) and set its permissions, as one change.

    Refused: a name another role has, the name ``owner`` for any other role,
    renaming the owner role, changing it unless an owner, and permissions the
    acting user does not hold.
    """
    with acting_as(acting_user), transaction.atomic():
        stored = Role.objects.select_for_update().filter(pk=role.pk).first() if role.pk else None
        hierarchy.ensure_may_change_role(acting_user=acting_user, stored=stored, new_name=role.name)
        taken = _("A role named “%(name)s” already exists.") % {"name": role.name}
        if Role.objects.filter(name=role.name).exclude(pk=role.pk).exists():
            raise ValidationError({"name": taken})
        try:
            with transaction.atomic():
                role.save()
        except IntegrityError as error:  # a concurrent role took the name
            raise ValidationError({"name": taken}) from error
        set_role_permissions(role=role, codenames=codenames, acting_user=acting_user)
    return role


def delete_role(*, role: Role, acting_user: User | None) -> None:
    """Delete a role nobody holds; the owner role is never deleted."""
    if role.name == Role.OWNER:
        raise ValidationError(_("The owner role cannot be deleted."))
    if UserRole.objects.filter(role=role).exists():
        raise ValidationError(
            _("The role “%(role)s” is still assigned. Remove its assignments first.")
            % {"role": role}
        )
    with acting_as(acting_user), transaction.atomic():
        role.delete()


# --- users -------------------------------------------------------------------------------


def create_first_administrator(*, email: str, full_name: str, password_hash: str) -> User:
    """The company's first user: its owner, signing in with the password chosen at sign-up.

    A system action (provisioning): nobody acts, so nothing is checked. Takes
    the password hash captured at sign-up; the plain password is never stored.
    Also creates the default roles if missing and gives the user the owner
    role. Must run inside the company's context
    (``qiro.tenant_context.company_context``).
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
        roles = ensure_default_roles()
        UserRole.objects.create(user=user, role=roles[Role.OWNER])
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
    with acting_as(acting_user), transaction.atomic():
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
    return user


def update_user(
    *, user: User, email: str, full_name: str, user_type: str, acting_user: User | None
) -> User:
    """Change a user's e-mail address, name or type; returns the user as stored.

    Whoever changes an account's e-mail address can reset its password, so
    any change is refused unless the acting user may manage the user (owners
    only by owners, nobody a user who holds more than they do); the owner
    type is for owners to give or take. Saving without a change is no change.
    """
    email = User.objects.normalize_email(email).lower()
    with acting_as(acting_user), transaction.atomic():
        stored = User.objects.select_for_update().get(pk=user.pk)
        wanted = {"email": email, "full_name": full_name, "user_type": user_type}
        changes = {
            field: value for field, value in wanted.items() if getattr(stored, field) != value
        }
        if not changes:
            return stored
        hierarchy.ensure_may_manage(acting_user=acting_user, user=stored)
        hierarchy.ensure_may_set_user_type(
            acting_user=acting_user, old=stored.user_type, new=user_type
        )
        if "email" in changes:
            _refuse_taken_email(email, but=stored)
        for field, value in changes.items():
            setattr(stored, field, value)
        stored.save(update_fields=list(changes))
    return stored


def deactivate_user(*, user: User, acting_user: User | None) -> int:
    """Deactivate a user the acting user may manage and end their sessions; never the
    last active owner. Returns the number of sessions ended."""
    with acting_as(acting_user), transaction.atomic():
        hierarchy.ensure_may_manage(acting_user=acting_user, user=user)
        owner_role = _lock_owner_role()
        if (
            owner_role is not None
            and UserRole.objects.filter(user=user, role=owner_role).exists()
            and _active_owner_count(owner_role) <= 1
        ):
            raise ValidationError(
                _("%(user)s is the company's last owner and cannot be deactivated.")
                % {"user": user}
            )
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        actor_id = acting_user.pk if acting_user else None
        tokens.revoke_user_tokens(user=user, reason="user deactivated", actor_id=actor_id)
        return revoke_user_sessions(user=user, reason="user deactivated", actor_id=actor_id)


def reactivate_user(*, user: User, acting_user: User | None) -> bool:
    """Let a deactivated user sign in again (a user the acting user may manage).

    Their ended sessions and revoked tokens stay ended. False if already active.
    """
    with acting_as(acting_user), transaction.atomic():
        hierarchy.ensure_may_manage(acting_user=acting_user, user=user)
        changed = User.objects.filter(pk=user.pk, is_active=False).update(is_active=True)
    user.is_active = True
    return bool(changed)


def delete_user(*, user: User, acting_user: User | None) -> None:
    """Delete a user the acting user may manage; never the last active owner."""
    with acting_as(acting_user), transaction.atomic():
        hierarchy.ensure_may_manage(acting_user=acting_user, user=user)
        owner_role = _lock_owner_role()
        if (
            owner_role is not None
            and user.is_active
            and UserRole.objects.filter(user=user, role=owner_role).exists()
            and _active_owner_count(owner_role) <= 1
        ):
            raise ValidationError(
                _("%(user)s is the company's last owner and cannot be deleted.") % {"user": user}
            )
        user.delete()


def send_password_reset_email(
    *, user: User, request: HttpRequest, acting_user: User | None
) -> None:
    """Mail the user a link to choose a new password (also how invited users start).

    Sent for someone else only to a user the acting user may manage.
    """
    hierarchy.ensure_may_manage(acting_user=acting_user, user=user)
    form = PasswordResetForm(data={"email": user.email})
    if form.is_valid():
        form.save(
            request=request,
            use_https=request.is_secure(),
            subject_template_name="sysauth/password_reset_subject.txt",
            email_template_name="sysauth/password_reset_email.txt",
        )


# --- sessions ------------------------------------------------------------------------


def _revoke(sessions: QuerySet[Session], *, reason: str, actor_id: int | None) -> int:
    return sessions.filter(status=SessionStatus.ACTIVE).update(
        status=SessionStatus.REVOKED,
        ended_at=timezone.now(),
        revoked_by_id=actor_id,
        revoked_reason=reason[:200],
    )


def revoke_session(*, session: Session, reason: str, actor_id: int | None = None) -> bool:
    """End one session; its browser is signed out on its next request."""
    return bool(_revoke(Session.objects.filter(pk=session.pk), reason=reason, actor_id=actor_id))


def revoke_user_sessions(
    *, user: User, reason: str, actor_id: int | None = None, keep_session_pk: int | None = None
) -> int:
    """End every active session of ``user`` (but ``keep_session_pk``). Returns how many."""
    sessions = Session.objects.filter(user=user)
    if keep_session_pk is not None:
        sessions = sessions.exclude(pk=keep_session_pk)
    return _revoke(sessions, reason=reason, actor_id=actor_id)


def revoke_company_sessions(*, reason: str, actor_id: int | None = None) -> int:
    """End every active session of the current company (e.g. when it is suspended).

    Must run inside the company's context; returns the number of sessions ended.
    """
    if tenant_context.current_context().company_id is None:
        raise RuntimeError("revoke_company_sessions needs a company context")
    return _revoke(Session.objects.all(), reason=reason, actor_id=actor_id)


def sign_out_session(*, user: User, session_pk: int) -> bool:
    """A person ends one of their own sessions."""
    return bool(
        _revoke(
            Session.objects.filter(pk=session_pk, user=user),
            reason="signed out by the user",
            actor_id=user.pk,
        )
    )


# --- sign-in throttling ------------------------------------------------------------------


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


def clean_sessions_everywhere() -> int:
    """Expire sessions past their expiry, drop long-ended ones and old failed sign-ins.

    In the public schema (platform staff), then in every company's schema in
    its own context. Run by the routine's hourly job and by
    ``manage.py expire_sessions``; returns the number of companies cleaned.
    """
    from sysauth.sessions.db import SessionStore
    from tenants.models import Company

    with tenant_context.platform_context():
        companies = list(Company.objects.all())
        SessionStore.clear_expired()
        forget_old_login_failures()
    for company in companies:
        with tenant_context.company_context(company):
            SessionStore.clear_expired()
            forget_old_login_failures()
    return len(companies)
