"""Users, sessions, roles and the permission history.

Platform staff live in the public schema (company NULL), each company's users,
sessions and roles in its own schema. Every table carries ``company_id`` and
row security: the company of the current transaction sees its own rows only,
the platform role only the rows without a company.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qiro.db.fields import EnumField
from qiro.rls import CurrentCompanyId, RowSecurity
from sysauth.triggers import RECORD_ROLE_PERMISSIONS_CHANGE


class UserType(models.TextChoices):
    """Mirrors the PostgreSQL ENUM ``user_type``."""

    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Administrator")
    MEMBER = "member", _("Member")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("users need an e-mail address")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True, user_type=UserType.OWNER)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username or "")


class User(AbstractBaseUser):
    """A person who signs in with an e-mail address.

    ``company_id`` defaults to the company of the current transaction, so a
    row written in a company's context belongs to it; platform staff (public
    schema, no company) have none.
    """

    company_id = models.BigIntegerField(
        _("company"), null=True, blank=True, editable=False, db_default=CurrentCompanyId()
    )
    email = models.EmailField(_("e-mail address"), unique=True)
    full_name = models.CharField(_("name"), max_length=150, blank=True)
    user_type = EnumField(
        _("user type"), enum_type="user_type", choices=UserType.choices, default=UserType.MEMBER
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(
        _("may use the admin"),
        default=False,
        help_text=_("Whether the user can sign in to this site's admin."),
    )
    is_superuser = models.BooleanField(
        _("all permissions"),
        default=False,
        help_text=_("Has every permission without roles being assigned."),
    )
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)
    notify_operations = models.BooleanField(
        _("operations mail"),
        default=False,
        db_default=False,  # rows written in raw SQL (bulk loads) need no value
        help_text=_(
            "Platform staff: receive the mails about failed verifications, backups, test "
            "restores, deploys and schedules that stopped running."
        ),
    )

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    row_security = RowSecurity(column="company_id", platform="company_id IS NULL")

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]
        permissions = [("use_company_admin", _("Can use the company administration"))]
        indexes = [
            # Counting users under row security: every row's company_id is
            # checked, and this (deduplicated, tiny) index lets the count be
            # an index-only scan instead of reading every row (docs/performance.md).
            models.Index(fields=["company_id"], name="sysauth_user_company"),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name or self.email

    # Permissions come from the authentication backends (roles in sysauth).
    def has_perm(self, perm: str, obj: models.Model | None = None) -> bool:
        from django.contrib.auth import get_backends

        if self.is_active and self.is_superuser:
            return True
        return any(backend.has_perm(self, perm, obj) for backend in get_backends())

    def has_perms(self, perm_list: Any, obj: models.Model | None = None) -> bool:
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        from django.contrib.auth import get_backends

        if self.is_active and self.is_superuser:
            return True
        return any(
            getattr(backend, "has_module_perms", lambda user, label: False)(self, app_label)
            for backend in get_backends()
        )


def _company_column() -> models.BigIntegerField:
    return models.BigIntegerField(
        _("company"), null=True, blank=True, editable=False, db_default=CurrentCompanyId()
    )


# Rows of the public schema (platform staff) have no company; the platform role
# reaches exactly those.
PLATFORM_ROWS = "company_id IS NULL"


class SessionStatus(models.TextChoices):
    """Mirrors the PostgreSQL ENUM ``session_status``."""

    ACTIVE = "active", _("Active")
    REVOKED = "revoked", _("Revoked")
    EXPIRED = "expired", _("Expired")
    LOGGED_OUT = "logged_out", _("Signed out")


class Session(models.Model):
    """A browser session (the store of ``sysauth.sessions.db``).

    Only a SHA-256 hash of the cookie value is stored, so the table cannot be
    used to take over a session. ``last_seen_at`` is written at most once a
    minute, not on every request.
    """

    company_id = _company_column()
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
    revoked_by = models.ForeignKey(
        User,
        verbose_name=_("revoked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_reason = models.CharField(_("reason"), max_length=200, blank=True)

    row_security = RowSecurity(column="company_id", platform=PLATFORM_ROWS)

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


class Role(models.Model):
    """A named set of permissions, assigned to users of the company."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"

    company_id = _company_column()
    name = models.SlugField(_("name"), max_length=50)
    label = models.CharField(_("label"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    row_security = RowSecurity(column="company_id", platform=PLATFORM_ROWS)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["company_id", "name"], name="sysauth_role_unique_name")
        ]

    def __str__(self) -> str:
        # The default roles are named like the user types, translated.
        return str(self.label or dict(UserType.choices).get(self.name, self.name))


class RolePermission(models.Model):
    """One permission (``app_label.codename``, as Django's ``has_perm`` takes it) of a role."""

    company_id = _company_column()
    role = models.ForeignKey(
        Role,
        verbose_name=_("role"),
        on_delete=models.CASCADE,
        related_name="permissions",
        db_index=False,  # the unique (role, codename) index serves it
    )
    codename = models.CharField(_("permission"), max_length=150)

    row_security = RowSecurity(column="company_id", platform=PLATFORM_ROWS)
    # Writes the permission-change history (migration 0002); checked by `verify`.
    database_expectations = (RECORD_ROLE_PERMISSIONS_CHANGE,)

    class Meta:
        verbose_name = _("role permission")
        verbose_name_plural = _("role permissions")
        ordering = ["role", "codename"]
        constraints = [
            # company_id included: "the permissions of a role" under row
            # security is an index-only scan (the policy's column is there).
            models.UniqueConstraint(
                fields=["role", "codename"],
                include=["company_id"],
                name="sysauth_rolepermission_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.codename}"


class UserRole(models.Model):
    """A role assigned to a user (written by ``sysauth.actions.assign_role``)."""

    company_id = _company_column()
    # Both looked up through the composite indexes below, not indexes of their own.
    user = models.ForeignKey(
        User,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="user_roles",
        db_index=False,
    )
    role = models.ForeignKey(
        Role,
        verbose_name=_("role"),
        on_delete=models.PROTECT,
        related_name="user_roles",
        db_index=False,
    )
    assigned_by = models.ForeignKey(
        User,
        verbose_name=_("assigned by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assigned_at = models.DateTimeField(_("assigned"), default=timezone.now)

    row_security = RowSecurity(column="company_id", platform=PLATFORM_ROWS)
    database_expectations = (RECORD_ROLE_PERMISSIONS_CHANGE,)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        ordering = ["user", "role"]
        constraints = [
            # also the index of "roles of a user": with company_id included, an
            # index-only scan under row security
            models.UniqueConstraint(
                fields=["user", "role"], include=["company_id"], name="sysauth_userrole_unique"
            )
        ]
        indexes = [models.Index(fields=["role", "user"], name="sysauth_userrole_by_role")]

    def __str__(self) -> str:
        return f"{self.user} · {self.role}"


class HistoryOperation(models.TextChoices):
    INSERT = "INSERT", _("Added")
    UPDATE = "UPDATE", _("Changed")
    DELETE = "DELETE", _("Removed")


class RolePermissionHistory(models.Model):
    """Every change of role permissions and role assignments, append-only.

    Written only by the trigger ``record_role_permissions_change`` (migration
    0002), so raw SQL is recorded as well as the ORM. The ids are kept without
    foreign-key constraints: the history outlives the users and roles it names.
    The runtime roles may read and insert, never update or delete.
    """

    company_id = _company_column()
    operation = models.CharField(_("operation"), max_length=6, choices=HistoryOperation.choices)
    table_name = models.CharField(_("table"), max_length=63)
    role = models.ForeignKey(
        Role,
        verbose_name=_("role"),
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    user = models.ForeignKey(
        User,
        verbose_name=_("user"),
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    permission = models.CharField(_("permission"), max_length=150, blank=True)
    old_values = models.JSONField(_("old values"), null=True)
    new_values = models.JSONField(_("new values"), null=True)
    actor = models.ForeignKey(
        User,
        verbose_name=_("changed by"),
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed"), db_default=Now())

    row_security = RowSecurity(column="company_id", platform=PLATFORM_ROWS)
    # Append-only: qiro.db.roles grants the runtime roles exactly this.
    runtime_privileges = ("SELECT", "INSERT")

    class Meta:
        verbose_name = _("permission change")
        verbose_name_plural = _("permission history")
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-changed_at"], name="sysauth_history_user"),
            models.Index(fields=["role", "-changed_at"], name="sysauth_history_role"),
            models.Index(fields=["-changed_at"], name="sysauth_history_time"),
        ]

    def __str__(self) -> str:
        return f"{self.changed_at:%Y-%m-%d %H:%M} {self.get_operation_display()}"


class LoginFailure(models.Model):
    """A failed sign-in, counted per account and per IP address to throttle guessing."""

    company_id = _company_column()
    email = models.CharField(_("e-mail address"), max_length=254)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True)
    failed_at = models.DateTimeField(_("failed"), default=timezone.now)

    row_security = RowSecurity(column="company_id", platform=PLATFORM_ROWS)

    class Meta:
        verbose_name = _("failed sign-in")
        verbose_name_plural = _("failed sign-ins")
        indexes = [
            models.Index(fields=["email", "failed_at"], name="sysauth_loginfail_email"),
            models.Index(fields=["ip_address", "failed_at"], name="sysauth_loginfail_ip"),
        ]

    def __str__(self) -> str:
        return f"{self.email} · {self.ip_address or '?'}"


# The audit log has its own module; imported here so Django finds the model.
from sysauth.models_audit import AuditEntry as AuditEntry  # noqa: E402

# API tokens live in a module of their own; imported so that the app registers them.
from sysauth.models_tokens import ApiToken  # noqa: E402, F401
