"""Users: platform staff in ``public``, each company's people in its own schema."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qiro.db.fields import EnumField
from qiro.models import CompanyRecord


def acting_user_column(verbose_name: Any, **options: Any) -> models.ForeignKey:
    """The user who did something to a row (assigned it, revoked it).

    Cleared when that user is deleted, the row itself stays; no reverse accessor.
    """
    return models.ForeignKey(
        "sysauth.User",
        verbose_name=verbose_name,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        **options,
    )


def composite_indexed_key(
    to: Any, verbose_name: Any, *, related_name: str, on_delete: Any = models.CASCADE
) -> models.ForeignKey:
    """A foreign key looked up through a composite index of its table that begins
    with it (a unique constraint or an index of ``Meta``), not an index of its own."""
    return models.ForeignKey(
        to,
        verbose_name=verbose_name,
        on_delete=on_delete,
        related_name=related_name,
        db_index=False,
    )


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


class User(CompanyRecord, AbstractBaseUser):
    """A person who signs in with an e-mail address.

    ``company_id`` defaults to the company of the current transaction, so a
    row written in a company's context belongs to it; platform staff (public
    schema, no company) have none.
    """

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
            # A later page of the user list skips its OFFSET in the index alone:
            # the e-mail order, with the company id row security checks and the id.
            models.Index(
                fields=["email"], include=["company_id", "id"], name="sysauth_user_email_page"
            ),
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
