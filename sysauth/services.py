"""Writes on a company's users, roles and sessions.

Everything runs as the runtime role inside the company's context (a request on
its host, or ``qiro.tenant_context.company_context``); row-level security keeps
each company to its own rows. Rules kept here:

* a company always keeps at least one active owner (role ``owner``);
* a user holds a role at most once;
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
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _

from qiro import tenant_context
from sysauth import address_throttle
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

ADMIN_ACCESS = "sysauth.use_company_admin"


def _perms(**actions: tuple[str, ...]) -> list[str]:
    return [f"sysauth.{a}_{model}" for model, names in actions.items() for a in names]


ALL = ("view", "add", "change", "delete")
# The roles every company starts with: name -> (label, permission codenames).
# An empty label shows the translated user type of the same name.
DEFAULT_ROLES: dict[str, tuple[str, list[str]]] = {
    Role.OWNER: (
        "",
        [
            ADMIN_ACCESS,
            *_perms(
                user=ALL,
                role=ALL,
                rolepermission=ALL,
                userrole=ALL,
                session=("view", "change"),
                rolepermissionhistory=("view",),
            ),
        ],
    ),
    Role.ADMIN: (
        "",
        [
            ADMIN_ACCESS,
            *_perms(
                user=("view", "add", "change"),
                role=("view",),
                rolepermission=("view",),
                userrole=("view", "add", "delete"),
                session=("view", "change"),
                rolepermissionhistory=("view",),
            ),
        ],
    ),
    Role.MEMBER: ("", []),
}


@contextlib.contextmanager
def acting_as(actor: User | None) -> Iterator[None]:
    """The permission history records ``actor`` for the writes of the body."""
    if actor is None:
        yield
        return
    previous = tenant_context.current_context().actor_id
    tenant_context.set_actor(actor.pk)
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


def assign_role(*, user: User, role: Role, actor: User | None = None) -> UserRole:
    """Give ``user`` the role ``role``; a second assignment of the same role is refused."""
    if UserRole.objects.filter(user=user, role=role).exists():
        raise ValidationError(
            {"role": _("%(user)s already has the role “%(role)s”.") % {"user": user, "role": role}}
        )
    try:
        with acting_as(actor), transaction.atomic():
            return UserRole.objects.create(user=user, role=role, assigned_by=actor)
    except IntegrityError as error:  # a concurrent assignment won the race
        raise ValidationError(
            {"role": _("%(user)s already has the role “%(role)s”.") % {"user": user, "role": role}}
        ) from error


def unassign_role(*, user: User, role: Role, actor: User | None = None) -> None:
    """Take the role away; the last active owner keeps the owner role."""
    with acting_as(actor), transaction.atomic():
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


def set_role_permissions(
    *, role: Role, codenames: Iterable[str], actor: User | None = None
) -> None:
    """Make the role's permissions exactly ``codenames`` (added and removed rows are recorded)."""
    wanted = set(codenames)
    with acting_as(actor), transaction.atomic():
        current = set(RolePermission.objects.filter(role=role).values_list("codename", flat=True))
        RolePermission.objects.filter(role=role, codename__in=current - wanted).delete()
        RolePermission.objects.bulk_create(
            [RolePermission(role=role, codename=c) for c in sorted(wanted - current)]
        )


def delete_role(*, role: Role, actor: User | None = None) -> None:
    """Delete a role nobody holds; the owner role is never deleted."""
    if role.name == Role.OWNER:
        raise ValidationError(_("The owner role cannot be deleted."))
    if UserRole.objects.filter(role=role).exists():
        raise ValidationError(
            _("The role “%(role)s” is still assigned. Remove its assignments first.")
            % {"role": role}
        )
    with acting_as(actor), transaction.atomic():
        role.delete()


# --- users -------------------------------------------------------------------------------


def create_first_administrator(*, email: str, full_name: str, password_hash: str) -> User:
    """The company's first user: its owner, signing in with the password chosen at sign-up.

    Takes the password hash captured at sign-up; the plain password is never
    stored. Also creates the default roles if missing and gives the user the
    owner role. Must run inside the company's context
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


def create_user(
    *,
    email: str,
    full_name: str,
    password: str | None,
    roles: Iterable[Role] = (),
    actor: User | None = None,
) -> User:
    """A new user of the company; without a password they set one through the reset e-mail."""
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": _("A user with this e-mail address already exists.")})
    with acting_as(actor), transaction.atomic():
        user = User(email=email, full_name=full_name)
        # Without a password: a random one nobody knows, replaced through the reset
        # e-mail (Django's reset form ignores accounts with an unusable password).
        user.set_password(password or get_random_string(48))
        user.save()
        for role in roles:
            UserRole.objects.create(user=user, role=role, assigned_by=actor)
    return user


def deactivate_user(*, user: User, actor: User | None = None) -> int:
    """Deactivate a user and end their sessions; never the last active owner.

    Returns the number of sessions ended.
    """
    with acting_as(actor), transaction.atomic():
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
        return revoke_user_sessions(
            user=user, reason="user deactivated", actor_id=actor.pk if actor else None
        )


def delete_user(*, user: User, actor: User | None = None) -> None:
    """Delete a user; never the last active owner."""
    with acting_as(actor), transaction.atomic():
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


def send_password_reset_email(*, user: User, request: HttpRequest) -> None:
    """Mail the user a link to choose a new password (also how invited users start)."""
    form = PasswordResetForm(data={"email": user.email})
    if form.is_valid():
        form.save(
            request=request,
            use_https=request.is_secure(),
            subject_template_name="sysauth/password_reset_subject.txt",
            email_template_name="sysauth/password_reset_email.txt",
        )


def permission_choices() -> list[tuple[str, str]]:
    """The permissions a role can hold: those of the company apps' models."""
    labels = {label.rsplit(".", 1)[-1] for label in settings.TENANT_APPS}
    permissions = Permission.objects.filter(content_type__app_label__in=labels).select_related(
        "content_type"
    )
    return sorted((f"{p.content_type.app_label}.{p.codename}", str(p.name)) for p in permissions)


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
